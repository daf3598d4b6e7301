//! The command line: exit codes, error locations, determinism, output files.

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

const FLAGSHIP: &str = "scenarios/checkout-leak.toml";

fn canarysim() -> Command {
    Command::cargo_bin("canarysim").expect("binary builds")
}

fn run_json(seed: u64) -> Vec<u8> {
    let out = canarysim()
        .args([
            "run",
            FLAGSHIP,
            "--policy",
            "manual",
            "--format",
            "json",
            "--seed",
            &seed.to_string(),
        ])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn flagship_manual_policy_misses_the_leak_and_oom_kills_about_45_minutes_after_promotion() {
    let json: serde_json::Value = serde_json::from_slice(&run_json(1)).unwrap();
    let run = &json["runs"][0];
    assert_eq!(run["verdict"], "missed");
    assert_eq!(run["policy"], "manual");
    assert_eq!(run["canary_bad"], true);
    let promoted = run["rollout"]["promoted_at_s"].as_f64().expect("promoted");
    let first_canary_kill = run["oom_kills"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["version"] == "canary")
        .expect("a canary OOM kill")["t_s"]
        .as_f64()
        .unwrap();
    let after = first_canary_kill - promoted;
    assert!(
        (2520.0..=2880.0).contains(&after),
        "first canary OOM kill {after} s after promotion"
    );
}

#[test]
fn same_seed_gives_the_same_bytes_and_another_seed_does_not() {
    let a = run_json(1);
    assert_eq!(a, run_json(1));
    assert_ne!(a, run_json(2));
}

fn bad_scenario(name: &str, text: &str, expect_line_col: &str, expect_msg: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    fs::write(&path, text).unwrap();
    let out_dir = dir.path().join("out");
    canarysim()
        .args([
            "run",
            path.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "{name}:{expect_line_col}"
        )))
        .stderr(predicate::str::contains(expect_msg));
    assert!(
        !Path::new(&out_dir).exists(),
        "no output written for a bad scenario"
    );
}

fn flagship_with(from: &str, to: &str) -> String {
    let text = fs::read_to_string(FLAGSHIP).unwrap();
    assert!(
        text.contains(from),
        "fixture anchor {from:?} is in the flagship"
    );
    text.replacen(from, to, 1)
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn toml_syntax_error_exits_2_naming_line_and_column() {
    let text = flagship_with("replicas = 5", "replicas = = 5");
    let line = line_of(&text, "replicas = = 5");
    bad_scenario("syntax.toml", &text, &format!("{line}:12"), "");
}

#[test]
fn unknown_key_exits_2_naming_line_and_column() {
    let text = flagship_with("replicas = 5", "replicas = 5\nreplcas = 6");
    let line = line_of(&text, "replcas = 6");
    bad_scenario(
        "unknown.toml",
        &text,
        &format!("{line}:1"),
        "unknown field `replcas`",
    );
}

#[test]
fn negative_replicas_exit_2_naming_line_and_column() {
    let text = flagship_with("replicas = 5", "replicas = -3");
    let line = line_of(&text, "replicas = -3");
    bad_scenario(
        "negative.toml",
        &text,
        &format!("{line}:12"),
        "rollout.replicas: -3 replicas",
    );
}

#[test]
fn memory_limit_below_request_exits_2_naming_line_and_column() {
    let text = flagship_with(
        "limits = { cpu = \"1000m\", memory = \"1Gi\" }",
        "limits = { cpu = \"1000m\", memory = \"256Mi\" }",
    );
    let line = line_of(&text, "memory = \"256Mi\"");
    bad_scenario(
        "limit.toml",
        &text,
        &format!("{line}:36"),
        "memory limit 256Mi is below the request 512Mi",
    );
}

#[test]
fn a_memory_limit_without_a_suffix_is_named_in_bytes_not_as_0mi() {
    let text = flagship_with(
        "limits = { cpu = \"1000m\", memory = \"1Gi\" }",
        "limits = { cpu = \"1000m\", memory = \"1.5\" }",
    );
    let line = line_of(&text, "memory = \"1.5\"");
    bad_scenario(
        "bytes.toml",
        &text,
        &format!("{line}:36"),
        "memory limit 1.5 bytes is below the request 512Mi",
    );
}

#[test]
fn out_dir_gets_result_events_and_series() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    canarysim()
        .args([
            "run",
            FLAGSHIP,
            "--policy",
            "manual",
            "--out",
            out.to_str().unwrap(),
            "--series",
            "csv",
        ])
        .assert()
        .success();
    let result: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("result.json")).unwrap()).unwrap();
    assert_eq!(result["runs"][0]["verdict"], "missed");
    let events = fs::read_to_string(out.join("events.csv")).unwrap();
    assert!(events.starts_with("policy,seed,t_s,kind,detail\n"));
    assert!(events.contains("oom_kill"));
    let series = fs::read_to_string(out.join("series.csv")).unwrap();
    assert!(series.starts_with("policy,seed,t_s,metric,labels,value\n"));
    assert!(series.contains("container_memory_working_set_bytes"));
    let leftovers: Vec<_> = fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with('.') && name != ".canarysim-out"
        })
        .collect();
    assert!(leftovers.is_empty(), "no temporary files left behind");
}

#[test]
fn out_writes_series_of_every_policy_under_one_header() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    canarysim()
        .args([
            "run",
            FLAGSHIP,
            "--policy",
            "manual",
            "--policy",
            "memory-trend",
            "--series",
            "csv",
        ])
        .args(["--out", out.to_str().unwrap()])
        .assert()
        .success();
    let series = fs::read_to_string(out.join("series.csv")).unwrap();
    assert_eq!(series.matches("policy,seed,t_s,metric").count(), 1);
    assert!(series.lines().nth(1).unwrap().starts_with("manual,"));
    assert!(series.lines().last().unwrap().starts_with("memory-trend,"));
}

#[test]
fn many_seeds_give_the_same_bytes_on_one_thread_and_on_several() {
    let run = |threads: &str| {
        let out = canarysim()
            .env("RAYON_NUM_THREADS", threads)
            .args([
                "run",
                "scenarios/checkout-good.toml",
                "--policy",
                "memory-trend",
                "--runs",
                "6",
                "--format",
                "json",
            ])
            .output()
            .unwrap();
        assert!(out.status.success());
        out.stdout
    };
    let one = run("1");
    assert_eq!(one, run("3"));
    let json: serde_json::Value = serde_json::from_slice(&one).unwrap();
    let seeds: Vec<u64> = json["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seed"].as_u64().unwrap())
        .collect();
    assert_eq!(seeds, [1, 2, 3, 4, 5, 6]);
}

#[test]
fn an_unknown_scrape_offsets_value_exits_2_naming_line_and_column() {
    let text = flagship_with(
        "[simulation]\n",
        "[simulation]\nscrape_offsets = \"random\"\n",
    );
    let line = line_of(&text, "scrape_offsets = \"random\"");
    bad_scenario(
        "offsets.toml",
        &text,
        &format!("{line}:18"),
        "\"random\" is not a way to place scrapes",
    );
}

/// Every command's `--help` ends with examples, nested ones included.
#[test]
fn every_command_s_help_has_examples() {
    for cmd in [
        &["run"][..],
        &["lint"],
        &["query"],
        &["describe"],
        &["sweep"],
        &["sweep", "merge"],
        &["check"],
        &["promql"],
        &["promql", "test"],
        &["export"],
        &["plot"],
        &["plot", "timeline"],
        &["plot", "compare"],
        &["plot", "sweep"],
    ] {
        let out = canarysim().args(cmd).arg("--help").output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{cmd:?}");
        assert!(
            help.contains("Example:") || help.contains("Examples:"),
            "{cmd:?} --help has no examples:\n{help}"
        );
        assert!(help.contains("canarysim "), "{cmd:?}");
    }
}

/// An unknown key set by `--set` is not offered as the nearest valid path
/// to itself.
#[test]
fn an_unknown_set_path_is_not_suggested_to_itself() {
    let out = canarysim()
        .args([
            "run",
            "scenarios/checkout-good.toml",
            "--set",
            "nosuch.key=1",
        ])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(e.contains("--set: nosuch.key=1"), "{e}");
    let hint = e.split("nearest valid paths:").nth(1).unwrap_or("");
    assert!(!hint.is_empty() && !hint.contains("nosuch"), "{e}");
}

#[test]
fn query_at_a_fraction_of_a_millisecond_is_refused_with_the_two_nearest() {
    // Prometheus evaluates at whole milliseconds: 1500us was read as 1ms.
    canarysim()
        .args(["query", FLAGSHIP, "--at", "1500us", "time()"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--at 1500us: Prometheus evaluates a query at a whole millisecond; give 1ms or 2ms",
        ));
}

#[test]
fn a_warmup_below_a_millisecond_keeps_its_fraction_in_prometheus_timestamps() {
    // Aligned scrapes fall on whole seconds of simulated time; with a
    // warmup of 1.5 ms the one at 15 s is 14.9985 s into the rollout, so
    // its timestamp is 14998 ms (it was 14999: the 0.5 ms was dropped).
    let out = canarysim()
        .args([
            "query",
            FLAGSHIP,
            "--set",
            "simulation.warmup=1500us",
            "--set",
            "simulation.scrape_offsets=aligned",
            "--at",
            "20s",
            "timestamp(up)",
        ])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let stamps: Vec<&str> = json["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["value"][1].as_str().unwrap())
        .collect();
    assert!(!stamps.is_empty());
    assert!(stamps.iter().all(|t| *t == "14.998"), "{stamps:?}");
}
