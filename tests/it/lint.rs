//! `canarysim lint`: a manifest with one defect for every kind of finding,
//! the seed's findings at their lines, the fixed set clean, a scenario's
//! TOML steps, and the command's output and exit codes.

use std::path::PathBuf;

use assert_cmd::Command;
use canarysim::lint::{Finding, Kind, LintOptions, LintReport, Severity, lint_paths};

use crate::fixtures::Disk;

const SCENARIO: &str = "scenarios/checkout-leak.toml";

fn lint(paths: &[&str], scenario: Option<&str>) -> LintReport {
    let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
    let opts = LintOptions {
        scenario: scenario.map(PathBuf::from),
        ..LintOptions::default()
    };
    lint_paths(&Disk, &paths, &opts)
}

fn failing(r: &LintReport) -> Vec<&Finding> {
    r.findings
        .iter()
        .filter(|f| f.severity != Severity::Note)
        .collect()
}

/// The line of a test manifest marked `# defect`.
fn defect_line(path: &str) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .position(|l| l.contains("# defect"))
        .expect("a # defect marker")
        + 1
}

/// Lints `tests/data/manifests/lint/<name>.yaml` against the flagship
/// scenario and checks that the only finding that fails is one of `kind`
/// and `severity`, on the marked line; returns it.
fn only(name: &str, kind: Kind, severity: Severity) -> Finding {
    let path = format!("tests/data/manifests/lint/{name}.yaml");
    let r = lint(&[&path], Some(SCENARIO));
    let f = failing(&r);
    assert_eq!(f.len(), 1, "{name}: {:#?}", r.findings);
    let f = f[0].clone();
    assert_eq!((f.kind, f.severity), (kind, severity), "{name}: {f}");
    assert_eq!(f.diagnostic.location.file, path);
    assert_eq!(
        f.diagnostic.location.line,
        defect_line(&path),
        "{name}: {f}"
    );
    assert!(
        !f.diagnostic.hint.is_empty(),
        "{name}: a hint says how to fix it"
    );
    assert_eq!(r.exit_code(), 1);
    f
}

#[test]
fn a_sound_manifest_set_has_nothing_but_notes() {
    let r = lint(&["tests/data/manifests/lint/clean.yaml"], Some(SCENARIO));
    assert!(failing(&r).is_empty(), "{:#?}", r.findings);
    assert_eq!(r.exit_code(), 0);
}

#[test]
fn a_step_naming_an_undefined_template_is_reported_at_the_name() {
    let f = only("missing-template", Kind::MissingTemplate, Severity::Error);
    assert_eq!(
        f.diagnostic.message,
        "steps[1]: AnalysisTemplate \"latency\" is not defined"
    );
    assert_eq!(f.diagnostic.location.column, 31);
}

#[test]
fn a_template_arg_the_step_does_not_supply_is_reported_at_the_template() {
    let f = only("unresolved-arg", Kind::UnresolvedArg, Severity::Error);
    assert_eq!(
        f.diagnostic.message,
        "steps[1]: arg canary-hash of AnalysisTemplate \"memory\" is not supplied"
    );
    assert!(
        f.diagnostic
            .hint
            .contains("args.canary-hash was not resolved")
    );
}

#[test]
fn a_step_arg_no_template_declares_is_a_warning() {
    let f = only("unused-arg", Kind::UnusedArg, Severity::Warning);
    assert!(f.diagnostic.message.contains("\"canary-hsh\""));
}

#[test]
fn a_placeholder_naming_no_declared_arg_is_an_error() {
    let f = only("undeclared-arg", Kind::UndeclaredArg, Severity::Error);
    assert!(f.diagnostic.message.contains("{{args.namespace}}"), "{f}");
}

#[test]
fn a_query_that_does_not_parse_is_reported_at_the_query() {
    let f = only("promql", Kind::Promql, Severity::Error);
    assert!(
        f.diagnostic.message.ends_with("unclosed left parenthesis"),
        "{f}"
    );
}

#[test]
fn a_condition_that_does_not_parse_is_reported_at_the_column_where_it_stops() {
    let f = only("condition-syntax", Kind::Condition, Severity::Error);
    // `successCondition: ` ends at column 24; the parser stops after `<`.
    assert_eq!(f.diagnostic.location.column, 55);
    assert!(!f.diagnostic.message.contains('\n'), "one line: {f}");
}

#[test]
fn a_condition_that_gives_a_number_cannot_return_a_bool() {
    let f = only("condition-not-bool", Kind::Condition, Severity::Error);
    assert!(
        f.diagnostic
            .message
            .contains("cannot return a bool (it gives float64)"),
        "{f}"
    );
}

#[test]
fn a_condition_that_is_the_whole_result_cannot_return_a_bool_from_a_prometheus_query() {
    // YAML's 'result' is the expression `result`: a bool only if the result
    // is one, which a Prometheus query never gives (Argo: "expected bool").
    let f = only("condition-whole-result", Kind::Condition, Severity::Error);
    assert!(f.diagnostic.message.contains("cannot return a bool"), "{f}");
}

#[test]
fn a_blank_condition_is_compiled_by_argo_and_is_an_error() {
    let f = only("condition-blank", Kind::Condition, Severity::Error);
    assert!(f.diagnostic.message.contains("is blank"), "{f}");
    assert!(f.diagnostic.hint.contains("remove successCondition"), "{f}");
}

#[test]
fn a_guarded_index_on_a_scalar_query_fails_on_every_measurement() {
    let f = only("scalar-indexed", Kind::Condition, Severity::Error);
    assert!(
        f.diagnostic
            .message
            .contains("the query returns a scalar, so result is a number (float64), not a list"),
        "{f}"
    );
    assert!(f.diagnostic.hint.contains("result < 0.01"), "{f}");
}

#[test]
fn the_bare_result_of_a_scalar_query_is_compared_as_the_number_it_is() {
    let f = only("scalar-whole-result", Kind::Condition, Severity::Error);
    assert!(f.diagnostic.message.contains("cannot return a bool"), "{f}");
    assert!(f.diagnostic.hint.contains("result < 0.01"), "{f}");
    assert!(!f.diagnostic.hint.contains("result[0]"), "{f}");
}

#[test]
fn a_query_that_returns_a_string_is_an_error_as_argos_provider_refuses_it() {
    let f = only("query-string", Kind::Promql, Severity::Error);
    assert!(f.diagnostic.message.contains("returns a string"), "{f}");
}

#[test]
fn indexing_result_without_a_length_guard_is_a_warning() {
    let f = only("unguarded-index", Kind::UnguardedIndex, Severity::Warning);
    assert!(
        f.diagnostic
            .hint
            .contains("len(result) > 0 && (result[0] < 0.8)"),
        "{f}"
    );
}

#[test]
fn comparing_a_vector_result_with_a_number_is_a_warning_as_expr_checker_rejects_it() {
    // expr's checker (checker/checker.go) refuses `!=` between []float64 and int.
    let f = only("mismatched-types", Kind::MismatchedTypes, Severity::Warning);
    assert!(
        f.diagnostic
            .message
            .contains("invalid operation: != (mismatched types []float64 and int)"),
        "{f}"
    );
}

#[test]
fn a_count_above_one_without_an_interval_is_refused_at_the_count() {
    let f = only("metric-limits", Kind::Metric, Severity::Error);
    assert!(
        f.diagnostic
            .message
            .ends_with("interval must be specified when count > 1"),
        "{f}"
    );
}

#[test]
fn a_step_metric_with_an_interval_and_no_count_runs_forever() {
    let f = only("runs-forever", Kind::Metric, Severity::Error);
    assert!(f.diagnostic.message.contains("runs indefinitely"), "{f}");
}

#[test]
fn a_selector_no_simulated_pod_matches_is_reported_at_its_matcher() {
    let f = only("selector", Kind::Selector, Severity::Error);
    let line = std::fs::read_to_string("tests/data/manifests/lint/selector.yaml")
        .unwrap()
        .lines()
        .nth(defect_line("tests/data/manifests/lint/selector.yaml") - 1)
        .unwrap()
        .to_string();
    assert_eq!(
        f.diagnostic.location.column,
        line.find("pod=~").unwrap() + 1
    );
    assert!(
        f.diagnostic.message.contains(
            "no container_memory_working_set_bytes series has pod=~\"checkout-canary.*\""
        ),
        "{f}"
    );
    // The hint names the pods the cluster has.
    assert!(f.diagnostic.hint.contains("\"checkout-service-"), "{f}");
}

#[test]
fn selectors_are_not_checked_without_a_scenario_and_lint_says_so() {
    // No scenario lies above tests/data/manifests/lint, and none is given.
    let r = lint(&["tests/data/manifests/lint/selector.yaml"], None);
    assert!(r.of_kind(Kind::Selector).is_empty());
    let info = r.of_kind(Kind::Info);
    assert!(
        info.iter()
            .any(|f| f.diagnostic.message.starts_with("selectors not checked"))
    );
    assert_eq!(r.exit_code(), 0);
}

#[test]
fn a_locust_job_whose_locust_cannot_start_is_an_error() {
    // Every run's measurement of it is an Error ("not built in"); lint
    // used to pass it.
    let f = only("job-cannot-start", Kind::Invalid, Severity::Error);
    assert!(
        f.diagnostic
            .message
            .contains("locustfile \"other_flow.py\" is not built in"),
        "{f}"
    );
}

#[test]
fn a_locust_job_whose_command_line_locust_refuses_is_an_error() {
    // Locust exits 2 at start, so every pod of the Job fails. The run no
    // longer refuses the rollout for it; lint still reports it.
    let f = only("job-bad-flag", Kind::Invalid, Severity::Error);
    assert!(
        f.diagnostic
            .message
            .contains("Locust exits 2 before any user starts: locust: error: unrecognized arguments: --bogus-flag"),
        "{f}"
    );
}

#[test]
fn a_locust_job_without_headless_never_finishes_and_is_an_error() {
    let f = only("job-web-ui", Kind::Invalid, Severity::Error);
    assert!(f.diagnostic.message.contains("web UI"), "{f}");
}

#[test]
fn a_locust_job_whose_or_branch_exits_non_zero_keeps_the_failure() {
    // `locust … || exit 1` then the push: dash exits 1 when Locust fails,
    // so the Job fails with it and nothing is lost.
    let text = std::fs::read_to_string("tests/data/manifests/lint/job-exit-code.yaml").unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (or, warned) in [
        (" || exit 1", false),
        (" || true", true),
        (" || exit 0", true),
    ] {
        let path = dir.path().join("job.yaml");
        std::fs::write(
            &path,
            text.replace("--run-time=45s\n", &format!("--run-time=45s{or}\n")),
        )
        .unwrap();
        let r = lint(&[path.to_str().unwrap()], Some(SCENARIO));
        assert_eq!(
            !r.of_kind(Kind::JobExitCode).is_empty(),
            warned,
            "{or}: {:#?}",
            r.findings
        );
    }
}

#[test]
fn a_job_command_canarysim_cannot_read_is_said_to_be_its_limit_not_argos() {
    // `time locust …`: Argo creates the Job; canarysim finds no locust to run.
    let text = std::fs::read_to_string("tests/data/manifests/lint/job-exit-code.yaml").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("job.yaml");
    std::fs::write(&path, text.replace("locust -f", "time locust -f")).unwrap();
    let r = lint(&[path.to_str().unwrap()], Some(SCENARIO));
    let f = r.of_kind(Kind::Metric);
    assert_eq!(f.len(), 1, "{:#?}", r.findings);
    assert!(
        f[0].diagnostic.message.contains("no `locust` command"),
        "{}",
        f[0]
    );
    assert!(
        f[0].diagnostic.hint.contains("canarysim cannot simulate"),
        "{}",
        f[0]
    );
    assert!(!f[0].diagnostic.hint.contains("ValidateMetric"), "{}", f[0]);
}

#[test]
fn a_locust_job_that_loses_locusts_exit_code_is_a_warning() {
    let f = only("job-exit-code", Kind::JobExitCode, Severity::Warning);
    assert!(
        f.diagnostic
            .message
            .contains("the job's exit code is the last command's, not Locust's")
    );
}

#[test]
fn a_value_argo_validation_rejects_is_an_error() {
    let f = only("invalid", Kind::Invalid, Severity::Error);
    assert_eq!(
        f.diagnostic.message,
        "SetWeight needs to be between 0 and 100"
    );
}

#[test]
fn a_rollout_that_disagrees_with_its_scenario_is_a_warning() {
    let f = only("shape", Kind::Shape, Severity::Warning);
    assert!(f.diagnostic.message.starts_with("replicas is 3 here but 5"));
}

#[test]
fn an_unmodelled_field_is_a_note_that_does_not_fail_lint() {
    let path = "tests/data/manifests/lint/unmodelled.yaml";
    let r = lint(&[path], Some(SCENARIO));
    assert!(failing(&r).is_empty(), "{:#?}", r.findings);
    let notes = r.of_kind(Kind::Unmodelled);
    assert_eq!(notes.len(), 1, "{notes:#?}");
    assert_eq!(notes[0].diagnostic.location.line, defect_line(path));
    assert_eq!(
        notes[0].diagnostic.message,
        "field spec.minReadySeconds is not modelled by canarysim"
    );
    assert_eq!(r.exit_code(), 0);
}

#[test]
fn a_yaml_syntax_error_is_unreadable_input_at_its_line_and_column() {
    let path = "tests/data/manifests/lint/yaml-syntax.yaml";
    let r = lint(&[path], None);
    let f = r.of_kind(Kind::Unreadable);
    assert_eq!(f.len(), 1);
    let l = &f[0].diagnostic.location;
    assert_eq!((l.line, l.column), (defect_line(path), 7));
    assert_eq!(r.exit_code(), 2);
}

fn at(f: &Finding) -> String {
    let l = &f.diagnostic.location;
    format!("{}:{}:{}", l.file, l.line, l.column)
}

#[test]
fn the_seed_reports_its_missing_templates_the_args_of_step_3_and_the_memory_selector_each_at_its_line()
 {
    // No --scenario: the flagship scenario above scenarios/argo/seed/ models
    // the same Rollout and is found.
    let r = lint(&["scenarios/argo/seed/"], None);
    let missing: Vec<String> = r
        .of_kind(Kind::MissingTemplate)
        .into_iter()
        .map(at)
        .collect();
    assert_eq!(
        missing,
        [
            "scenarios/argo/seed/rollout.yaml:22:31",
            "scenarios/argo/seed/rollout.yaml:45:31"
        ]
    );
    let unresolved: Vec<(String, &str)> = r
        .of_kind(Kind::UnresolvedArg)
        .into_iter()
        .map(|f| (at(f), f.diagnostic.message.as_str()))
        .collect();
    assert_eq!(
        unresolved,
        [
            (
                "scenarios/argo/seed/rollout.yaml:43:31".to_string(),
                "steps[8]: args canary-service, stable-service of AnalysisTemplate \"locust-canary-validation\" are not supplied"
            ),
            (
                "scenarios/argo/seed/rollout.yaml:44:31".to_string(),
                "steps[8]: arg canary-service of AnalysisTemplate \"canary-error-rate\" is not supplied"
            ),
            (
                "scenarios/argo/seed/rollout.yaml:46:31".to_string(),
                "steps[8]: arg canary-service of AnalysisTemplate \"canary-memory\" is not supplied"
            ),
        ]
    );
    let selectors: Vec<String> = r
        .of_kind(Kind::Selector)
        .into_iter()
        .filter(|f| f.severity == Severity::Error)
        .map(at)
        .collect();
    // Both selectors of the memory query, at their pod=~ lines.
    assert_eq!(
        selectors,
        [
            "scenarios/argo/seed/canary-memory.yaml:19:15",
            "scenarios/argo/seed/canary-memory.yaml:23:15"
        ]
    );
    let jobs: Vec<String> = r.of_kind(Kind::JobExitCode).into_iter().map(at).collect();
    assert_eq!(
        jobs,
        ["scenarios/argo/seed/locust-canary-validation.yaml:39:23"]
    );
    assert_eq!(r.of_kind(Kind::UnguardedIndex).len(), 2);
    assert_eq!(r.exit_code(), 1);
}

#[test]
fn lint_reads_only_through_its_files_and_finds_the_same_in_memory_as_on_disk() {
    // The repository's scenarios below a directory that is not on disk: the
    // scenario that names the seed is still discovered (the first by name of
    // the two that do), and every finding is the disk's, at the same line
    // and column of the in-memory label.
    let mem = crate::fixtures::copy_to_memory("scenarios", "in-memory");
    assert!(!std::path::Path::new("in-memory").exists());
    let opts = LintOptions::default();
    let in_memory = lint_paths(
        &mem,
        &[PathBuf::from("in-memory/scenarios/argo/seed/")],
        &opts,
    );
    let on_disk = lint(&["scenarios/argo/seed/"], None);
    let shown =
        |r: &LintReport| -> Vec<String> { r.findings.iter().map(|f| f.to_string()).collect() };
    let expected: Vec<String> = shown(&on_disk)
        .iter()
        .map(|f| f.replace("scenarios/", "in-memory/scenarios/"))
        .collect();
    assert_eq!(shown(&in_memory), expected);
    assert!(
        in_memory.findings.iter().any(|f| f
            .diagnostic
            .message
            .contains("scenario in-memory/scenarios/checkout-good.toml (policy")),
        "{:#?}",
        in_memory.findings
    );
    assert_eq!(in_memory.of_kind(Kind::MissingTemplate).len(), 2);
}

#[test]
fn the_hardened_set_keeps_only_the_write_ups_own_flaws() {
    let r = lint(&["scenarios/argo/hardened/"], None);
    let mut kinds: Vec<Kind> = failing(&r).iter().map(|f| f.kind).collect();
    kinds.dedup();
    assert_eq!(
        kinds,
        [Kind::UnguardedIndex, Kind::Selector, Kind::JobExitCode],
        "{:#?}",
        failing(&r)
    );
}

#[test]
fn the_fixed_set_lints_clean_against_the_simulated_cluster() {
    let r = lint(&["scenarios/argo/fixed/"], None);
    assert!(failing(&r).is_empty(), "{:#?}", r.findings);
    assert_eq!(r.exit_code(), 0);
    // The series check ran (it found the flagship scenario).
    assert!(
        r.of_kind(Kind::Info).iter().any(|f| f
            .diagnostic
            .message
            .starts_with("selectors checked against")),
        "{:#?}",
        r.findings
    );
}

#[test]
fn a_scenarios_toml_steps_are_checked_at_their_toml_lines() {
    let dir = tempfile::tempdir().unwrap();
    let flagship = crate::fixtures::flagship_base();
    let memory = std::fs::canonicalize("tests/data/manifests/read/memory-template.yaml").unwrap();
    let policies = format!(
        r#"
[[policies]]
name = "toml-analysis"
manifests = ["{}"]
steps = [
  {{ setWeight = 20 }},
  {{ analysis = {{ templates = [ {{ templateName = "memory" }}, {{ templateName = "latency" }} ] }} }},
]
"#,
        memory.display()
    );
    let path = dir.path().join("s.toml");
    std::fs::write(&path, flagship.clone() + &policies).unwrap();
    let r = lint(&[path.to_str().unwrap()], None);
    let text = flagship + &policies;
    let line = text
        .lines()
        .position(|l| l.contains("templateName = \"latency\""))
        .unwrap()
        + 1;
    let missing = r.of_kind(Kind::MissingTemplate);
    assert_eq!(missing.len(), 1, "{:#?}", r.findings);
    assert_eq!(missing[0].diagnostic.location.line, line);
    assert_eq!(
        missing[0].diagnostic.location.file,
        path.display().to_string()
    );
    let unresolved = r.of_kind(Kind::UnresolvedArg);
    assert_eq!(unresolved.len(), 1);
    assert!(unresolved[0].diagnostic.message.contains("canary-hash"));
    assert_eq!(unresolved[0].diagnostic.location.line, line);
}

// The command line.

fn canarysim() -> Command {
    Command::cargo_bin("canarysim").expect("binary builds")
}

#[test]
fn lint_exits_1_on_findings_0_when_clean_and_2_on_unreadable_input() {
    canarysim()
        .args(["lint", "scenarios/argo/seed/"])
        .assert()
        .code(1);
    canarysim()
        .args(["lint", "scenarios/argo/fixed/"])
        .assert()
        .code(0);
    canarysim()
        .args(["lint", "tests/data/manifests/lint/yaml-syntax.yaml"])
        .assert()
        .code(2);
    canarysim().args(["lint", "no/such/dir/"]).assert().code(2);
}

#[test]
fn lint_prints_one_finding_per_line_sorted_with_its_hint_below() {
    let out = canarysim()
        .args(["lint", "--quiet", "scenarios/argo/seed/"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (last, body) = lines.split_last().unwrap();
    assert!(last.starts_with("lint: 7 errors, 3 warnings"), "{last}");
    let mut keys = Vec::new();
    for pair in body.chunks(2) {
        assert!(pair[1].starts_with("  hint: "), "{pair:?}");
        let (loc, rest) = pair[0].split_once(": ").unwrap();
        assert!(
            rest.starts_with("error[") || rest.starts_with("warning["),
            "{rest}"
        );
        let mut parts = loc.rsplitn(3, ':');
        let col: usize = parts.next().unwrap().parse().unwrap();
        let line: usize = parts.next().unwrap().parse().unwrap();
        keys.push((parts.next().unwrap().to_string(), line, col));
    }
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert!(text.contains(
        "scenarios/argo/seed/rollout.yaml:22:31: error[missing-template]: steps[2]: AnalysisTemplate \"canary-health\" is not defined\n  hint: "
    ));
}

/// A scenario that `extends` a base is linted with its base, as `run` reads
/// it: `checkout-slow.toml` writes no policy of its own, so its findings are
/// `checkout-good.toml`'s, not "missing field" for the keys the base holds.
#[test]
fn a_scenario_that_extends_a_base_is_linted_with_its_base() {
    let lint_cli = |path: &str| {
        let out = Command::cargo_bin("canarysim")
            .unwrap()
            .args(["lint", path])
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8(out.stdout).unwrap())
    };
    let (base_code, base) = lint_cli("scenarios/checkout-good.toml");
    let (code, slow) = lint_cli("scenarios/checkout-slow.toml");
    assert_eq!((code, &slow), (base_code, &base));
    assert_eq!(code, Some(1), "the seed's manifests have errors\n{slow}");
    assert!(!slow.contains("missing field"), "{slow}");
    // A chain that comes back on itself is not a scenario: exit 2, at the key.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.toml"), "extends = \"b.toml\"\n").unwrap();
    std::fs::write(dir.path().join("b.toml"), "extends = \"a.toml\"\n").unwrap();
    let out = Command::cargo_bin("canarysim")
        .unwrap()
        .arg("lint")
        .arg(dir.path().join("a.toml"))
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("b.toml:1:11") && text.contains("extends this file again"),
        "{text}"
    );
}

/// The shipped scenarios and manifests, in memory under `proj/`, with
/// `edit` applied to each file's text.
fn shipped_project(edit: impl Fn(&str, String) -> String) -> canarysim::vfs::MemFiles {
    let mut files = canarysim::vfs::MemFiles::new();
    let mut dirs = vec![PathBuf::from("scenarios")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                let rel = p.strip_prefix("scenarios").unwrap();
                let name = rel.display().to_string();
                let text = edit(&name, std::fs::read_to_string(&p).unwrap());
                files.insert(PathBuf::from("proj").join(rel), text);
            }
        }
    }
    files
}

#[test]
fn a_manifest_directory_is_read_with_the_siblings_its_scenario_names_beside_it() {
    // The memory-trend policy names argo/common/ (shared templates) and
    // argo/trend/ (its Rollout). Linting argo/trend/ alone used to report
    // every template from argo/common/ as missing; in a namespace Argo
    // sees both, so they are read together, and only the files given are
    // reported on: a defect planted in argo/common/ is not this lint's.
    let files = shipped_project(|name, text| {
        if name == "argo/common/templates.yaml" {
            text.replacen(
                "query: |",
                "query: sum(rate(x[5m]) # defect\n          unused: |",
                1,
            )
        } else {
            text
        }
    });
    let opts = LintOptions::default();
    let r = lint_paths(&files, &[PathBuf::from("proj/argo/trend")], &opts);
    assert!(failing(&r).is_empty(), "{:#?}", r.findings);
    assert!(
        r.findings.iter().any(|f| f.diagnostic.message.starts_with(
            "read with proj/argo/common/templates.yaml, which scenario proj/checkout-good.toml"
        )),
        "{:#?}",
        r.findings
    );
    assert_eq!(r.exit_code(), 0);
    // The planted defect is there to be found when its own file is linted.
    let r = lint_paths(&files, &[PathBuf::from("proj/argo/common")], &opts);
    assert!(
        failing(&r)
            .iter()
            .any(|f| f.diagnostic.location.file == "proj/argo/common/templates.yaml"),
        "{:#?}",
        r.findings
    );
}

#[test]
fn a_count_given_by_an_arg_is_read_with_the_arg_s_value() {
    // count: "{{args.n}}" with n = "3" is a count of 3 once Argo resolves
    // it (lint used to read the placeholder as no count and report a
    // metric that runs forever); with n = "0" it does run forever.
    let text = std::fs::read_to_string("tests/data/manifests/lint/runs-forever.yaml").unwrap();
    let with_n = |n: &str| {
        text.replace(
            "                  podTemplateHashValue: Latest\n",
            &format!("                  podTemplateHashValue: Latest\n              - name: n\n                value: \"{n}\"\n"),
        )
        .replace("    - name: canary-hash\n  metrics:", "    - name: canary-hash\n    - name: n\n  metrics:")
        .replace("      interval: 30s # defect\n", "      interval: 30s # defect\n      count: \"{{args.n}}\"\n")
    };
    let dir = tempfile::tempdir().unwrap();
    let lint_n = |n: &str| {
        let path = dir.path().join(format!("n{n}.yaml"));
        std::fs::write(&path, with_n(n)).unwrap();
        assert!(with_n(n).contains("count: \"{{args.n}}\""));
        let r = lint(&[path.to_str().unwrap()], Some(SCENARIO));
        r.findings
            .iter()
            .filter(|f| f.diagnostic.message.contains("runs indefinitely"))
            .count()
    };
    assert_eq!(lint_n("3"), 0);
    assert_eq!(lint_n("0"), 1);
}
