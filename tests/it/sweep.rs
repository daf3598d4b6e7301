//! `canarysim sweep` and the override grammar: each kind of path changes
//! what it should, bad paths and values are refused where they are
//! written, and sharding, resuming and thread counts never change a byte.

use std::fs;
use std::path::Path;

use assert_cmd::Command;

const LEAK: &str = "scenarios/checkout-leak.toml";
const FL: &str = "policy.memory-trend.metric.memory-limit-within-1h.failureLimit";
const PAUSE: &str = "policy.memory-trend.steps[4].pause.duration";

fn canarysim() -> Command {
    Command::cargo_bin("canarysim").expect("binary builds")
}

fn ok(args: &[&str]) -> Vec<u8> {
    let out = canarysim().args(args).output().expect("runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn json(args: &[&str]) -> serde_json::Value {
    serde_json::from_slice(&ok(args)).expect("JSON")
}

/// Exit 2, and stderr.
fn refused(args: &[&str]) -> String {
    let out = canarysim().args(args).output().expect("runs");
    assert_eq!(
        out.status.code(),
        Some(2),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "nothing on stdout when refused");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn median_ttd(c: &serde_json::Value) -> f64 {
    c["time_to_detect_s"]["median"]
        .as_f64()
        .expect("something was caught")
}

#[test]
fn a_cell_without_axes_counts_what_run_runs_gives_over_the_same_seeds() {
    let runs = json(&[
        "run",
        LEAK,
        "--policy",
        "memory-trend",
        "--runs",
        "4",
        "--seed",
        "3",
        "--format",
        "json",
    ]);
    let sweep = json(&[
        "sweep",
        LEAK,
        "--policy",
        "memory-trend",
        "--runs",
        "4",
        "--seed",
        "3",
        "--format",
        "json",
    ]);
    let runs = runs["runs"].as_array().unwrap();
    let c = &sweep["cells"][0];
    for v in ["caught", "missed", "promoted", "false_abort", "undecided"] {
        let n = runs.iter().filter(|r| r["verdict"] == v).count() as u64;
        assert_eq!(c["verdicts"][v].as_u64(), Some(n), "{v}");
    }
    let mut ttd: Vec<f64> = runs
        .iter()
        .filter_map(|r| r["time_to_detect_s"].as_f64())
        .collect();
    ttd.sort_by(f64::total_cmp);
    // Four values: the median is the mean of the middle two.
    assert_eq!(ttd.len(), 4);
    assert!((median_ttd(c) - (ttd[1] + ttd[2]) / 2.0).abs() < 1e-9);
    assert_eq!(c["runs"], 4);
    assert_eq!(c["bad_release"], true);
    assert!(c["false_abort"].is_null());
    assert_eq!(sweep["sweep"]["common_random_numbers"], true);
}

#[test]
fn raising_failure_limit_or_lengthening_the_pause_delays_detection() {
    let r = json(&[
        "sweep",
        LEAK,
        "--policy",
        "memory-trend",
        "--runs",
        "3",
        "--vary",
        &format!("{FL}=0,2"),
        "--vary",
        &format!("{PAUSE}=1m,5m"),
        "--format",
        "json",
    ]);
    assert_eq!(r["cells"].as_array().unwrap().len(), 4);
    let at = |fl: i64, pause: &str| {
        r["cells"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["set"][FL] == fl && c["set"][PAUSE] == pause)
            .map(median_ttd)
            .unwrap()
    };
    // failureLimit 2 needs three failed measurements (a minute apart), 0 one.
    assert!(
        at(2, "1m") >= at(0, "1m") + 120.0,
        "{} vs {}",
        at(2, "1m"),
        at(0, "1m")
    );
    // Four more minutes of pause before the stage-2 analysis starts: later,
    // though by less than four minutes, since the longer pause also fills
    // the gate's 5-minute window with samples at 20% before it first looks.
    assert!(
        at(0, "5m") > at(0, "1m") + 60.0,
        "{} vs {}",
        at(0, "5m"),
        at(0, "1m")
    );
    // The memory gate decided every abort.
    for c in r["cells"].as_array().unwrap() {
        assert_eq!(
            c["aborted_by"]["canary-memory-trend/memory-limit-within-1h"], c["verdicts"]["caught"],
            "{c}"
        );
    }
}

#[test]
fn a_scenario_key_override_changes_the_world_it_names() {
    let plain = json(&["run", LEAK, "--policy", "memory-trend", "--format", "json"]);
    let short = json(&[
        "run",
        LEAK,
        "--policy",
        "memory-trend",
        "--format",
        "json",
        "--set",
        "simulation.soak=10m",
    ]);
    let d = |j: &serde_json::Value| j["runs"][0]["sim_duration_s"].as_f64().unwrap();
    // The flagship soaks 2 h after the verdict; 10 m instead is 110 m less.
    assert!(
        (d(&plain) - d(&short) - 6600.0).abs() < 1.0,
        "{} vs {}",
        d(&plain),
        d(&short)
    );
}

#[test]
fn an_arg_override_reaches_every_query_that_uses_it() {
    // With the canary service renamed to one that has no series, the
    // stage-1 health check (the first template that takes the arg) sees no
    // canary pod up and no successful request, and fails the rollout in its
    // first minute, long before the memory gate of stage 2 could.
    let r = json(&[
        "sweep",
        LEAK,
        "--policy",
        "memory-trend",
        "--runs",
        "2",
        "--set",
        "policy.memory-trend.arg.canary-service=no-such-service",
        "--format",
        "json",
    ]);
    let c = &r["cells"][0];
    assert_eq!(c["abort_causes"]["Failed"], 2, "{c}");
    assert_eq!(c["aborted_by"]["canary-health/canary-up"], 2, "{c}");
    assert!(median_ttd(c) < 120.0, "{c}");
    assert!(
        c["aborted_by"]["canary-memory-trend/memory-limit-within-1h"].is_null(),
        "{c}"
    );
}

#[test]
fn a_path_that_names_nothing_is_refused_with_the_nearest_valid_paths() {
    let e = refused(&["run", LEAK, "--set", "traffic.rat=120"]);
    assert!(e.contains("unknown field"), "{e}");
    assert!(e.contains("traffic.rate"), "{e}");
    let e = refused(&[
        "run",
        LEAK,
        "--set",
        "policy.memory-trend.metric.memory-limit-within-1m.failureLimit=2",
    ]);
    assert!(e.contains("nearest valid paths"), "{e}");
    assert!(e.contains("memory-limit-within-1h.failureLimit"), "{e}");
    let e = refused(&["run", LEAK, "--set", "policy.no-such.steps[0].setWeight=5"]);
    assert!(e.contains("memory-trend"), "lists the policies: {e}");
}

#[test]
fn a_value_of_the_wrong_type_is_refused_naming_the_type() {
    let e = refused(&["run", LEAK, "--set", "traffic.rate=fast"]);
    assert!(e.contains("traffic.rate=fast"), "{e}");
    assert!(
        e.contains("invalid type")
            && e.ends_with(
                "expected a number\n  hint: docs/scenario.md lists every key and its type\n"
            ),
        "{e}"
    );
    // The type is said in the file's words, never as the Rust type or
    // structure behind it.
    for (set, words) in [
        ("rollout.replicas=x", "expected a whole number"),
        ("pod.accept_queue=1.5", "expected a whole number"),
        ("traffic.users=0", "expected a table"),
        ("traffic.daily=1", "expected a table"),
    ] {
        let e = refused(&["run", LEAK, "--set", set]);
        assert!(e.contains(words), "{set}: {e}");
        for rust in ["i64", "f64", "struct", "File"] {
            assert!(!e.contains(rust), "{set} names {rust}: {e}");
        }
    }
    let e = refused(&["run", LEAK, "--set", &format!("{FL}=two")]);
    assert!(e.contains("wants an integer"), "{e}");
    let e = refused(&["run", LEAK, "--set", &format!("{PAUSE}=soon")]);
    assert!(e.contains("wants a duration"), "{e}");
    let e = refused(&[
        "run",
        LEAK,
        "--set",
        "policy.memory-trend.steps[4].setWeight=10",
    ]);
    assert!(
        e.contains("names no field"),
        "a pause step has no setWeight: {e}"
    );
}

#[test]
fn an_override_argo_would_refuse_is_refused_as_argo_says() {
    let e = refused(&[
        "run",
        LEAK,
        "--set",
        "policy.memory-trend.steps[0].setWeight=150",
    ]);
    assert!(e.contains("outside 0–100"), "{e}");
    let e = refused(&["run", LEAK, "--set", &format!("{FL}=-2")]);
    assert!(
        e.contains("failureLimit must be >= 0, or -1 to be disabled"),
        "{e}"
    );
    // count is 3: failureLimit 4 breaks `count >= failureLimit + consecutiveSuccessLimit`.
    let e = refused(&["run", LEAK, "--set", &format!("{FL}=4")]);
    assert!(e.contains("count (3) must be >= failureLimit"), "{e}");
}

#[test]
fn a_bad_axis_value_is_located_at_its_line_in_the_sweep_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::env::current_dir().unwrap();
    let file = dir.path().join("s.toml");
    fs::write(
        &file,
        format!(
            "schema = 1\nscenarios = [\"{}\"]\npolicies = [\"memory-trend\"]\nruns = 1\n\
             [[axis]]\nset = \"{FL}\"\nvalues = [\n  1,\n  \"lots\",\n]\n",
            root.join(LEAK).display()
        ),
    )
    .unwrap();
    let e = refused(&["sweep", file.to_str().unwrap()]);
    assert!(e.contains("s.toml:9:3"), "{e}");
    assert!(e.contains("wants an integer"), "{e}");
}

fn sweep_args(extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "sweep",
        LEAK,
        "--policy",
        "memory-trend",
        "--runs",
        "3",
        "--vary",
        &format!("{FL}=0,1"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

/// A sweep other than [`sweep_args`]'s: memory-trend over 2 seeds, no axis.
fn another_sweep(extra: &[&str]) -> Vec<String> {
    ["sweep", LEAK, "--policy", "memory-trend", "--runs", "2"]
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .collect()
}

fn ok_s(args: &[String]) -> Vec<u8> {
    ok(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn three_shards_merged_give_the_bytes_of_the_unsharded_sweep() {
    let plain = ok_s(&sweep_args(&["--format", "json"]));
    let dir = tempfile::tempdir().unwrap();
    let mut parts = Vec::new();
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let out = dir.path().to_str().unwrap();
        ok_s(&sweep_args(&["--shard", &shard, "--out", out]));
        parts.push(dir.path().join(format!("part-{k}-of-3.json")));
    }
    let mut args = vec!["sweep".to_string(), "merge".into()];
    args.extend(parts.iter().map(|p| p.display().to_string()));
    args.extend(["--format".into(), "json".into()]);
    assert_eq!(ok_s(&args), plain);
    // A missing shard is refused, naming it.
    let out = canarysim()
        .args(["sweep", "merge"])
        .args(&parts[..2])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing shards: 3/3"));
}

/// The shards of one sweep share their `--out` directory (a volume of an
/// Indexed Job) and may start at different times: a shard starting over
/// clears its own cells only, so another's can still be resumed.
#[test]
fn shards_sharing_an_out_directory_keep_each_others_cells() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let cells = dir.path().join("cells");
    let of = |k: u64| -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(&cells)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(&format!("-{k}-of-3.json")))
            .collect();
        v.sort();
        v
    };
    ok_s(&sweep_args(&["--shard", "1/3", "--out", out]));
    let first = of(1);
    assert_eq!(first.len(), 2, "{first:?}");
    ok_s(&sweep_args(&["--shard", "2/3", "--out", out]));
    assert_eq!(of(1), first, "shard 2 left shard 1's cells");
    assert_eq!(of(2).len(), 2);
    // Shard 2 started over clears its own cells and writes them again.
    ok_s(&sweep_args(&["--shard", "2/3", "--out", out]));
    assert_eq!((of(1), of(2).len()), (first.clone(), 2));
    let resumed = canarysim()
        .args(sweep_args(&["--shard", "1/3", "--out", out, "--resume"]))
        .output()
        .unwrap();
    assert!(resumed.status.success());
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert!(
        stderr.contains("0 runs in") && stderr.contains("read back"),
        "{stderr}"
    );
    // Another sweep in the directory: its cells go.
    ok_s(&another_sweep(&["--out", out]));
    assert!(of(1).is_empty() && of(2).is_empty());
}

/// A sweep into another sweep's `--out` removes what that sweep wrote, its
/// parts and results as well as its cells, so none of it is left looking
/// current; the same sweep's shards keep each other's parts and results.
#[test]
fn another_sweep_into_an_out_directory_removes_the_earlier_sweep_s_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let has = |name: &str| dir.path().join(name).exists();
    ok_s(&sweep_args(&["--out", out]));
    ok_s(&sweep_args(&["--shard", "1/2", "--out", out]));
    ok_s(&sweep_args(&["--shard", "2/2", "--out", out]));
    for name in ["result.json", "report.md", "cells.csv", "part-1-of-2.json"] {
        assert!(has(name), "the same sweep's shard kept {name}");
    }
    fs::write(dir.path().join(".part-1-of-2.json.tmp-1"), "{").unwrap();
    ok_s(&another_sweep(&["--shard", "1/3", "--out", out]));
    for name in [
        "result.json",
        "report.md",
        "cells.csv",
        "part-1-of-2.json",
        "part-2-of-2.json",
    ] {
        assert!(!has(name), "the earlier sweep's {name} is left");
    }
    assert!(has("part-1-of-3.json") && has("sweep.json") && has(".canarysim-out"));
    assert!(
        has(".part-1-of-2.json.tmp-1"),
        "a temporary file may be another shard's, in flight"
    );
}

/// A sweep's `--out` must be new, empty or a sweep's: a sweep never
/// overwrites or clears files it did not write.
#[test]
fn a_sweep_refuses_an_out_directory_holding_files_it_did_not_write() {
    // A name a sweep writes too, but no sweep's marker beside it.
    for (name, nested) in [("notes.txt", false), ("cells", true), ("report.md", false)] {
        let dir = tempfile::tempdir().unwrap();
        let mine = if nested {
            fs::create_dir(dir.path().join(name)).unwrap();
            dir.path().join(name).join("mine.txt")
        } else {
            dir.path().join(name)
        };
        fs::write(&mine, "mine").unwrap();
        let e = refused(
            &sweep_args(&["--out", dir.path().to_str().unwrap()])
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        );
        assert!(e.contains("holds files a sweep did not write"), "{e}");
        assert!(e.contains(name), "{e}");
        assert_eq!(fs::read_to_string(&mine).unwrap(), "mine");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
    // `sweep merge --out` too.
    let parts = tempfile::tempdir().unwrap();
    let at = parts.path().to_str().unwrap();
    for k in 1..=2 {
        ok_s(&sweep_args(&["--shard", &format!("{k}/2"), "--out", at]));
    }
    let mine = tempfile::tempdir().unwrap();
    fs::write(mine.path().join("report.md"), "mine").unwrap();
    let part = |k: u64| parts.path().join(format!("part-{k}-of-2.json"));
    let e = refused(&[
        "sweep",
        "merge",
        part(1).to_str().unwrap(),
        part(2).to_str().unwrap(),
        "--out",
        mine.path().to_str().unwrap(),
    ]);
    assert!(e.contains("holds files a sweep did not write"), "{e}");
    assert_eq!(
        fs::read_to_string(mine.path().join("report.md")).unwrap(),
        "mine"
    );
    // Into a new directory it writes, and a second merge replaces its files.
    let merged = parts.path().join("merged");
    for _ in 0..2 {
        ok(&[
            "sweep",
            "merge",
            part(1).to_str().unwrap(),
            part(2).to_str().unwrap(),
            "--out",
            merged.to_str().unwrap(),
        ]);
    }
    assert!(merged.join("result.json").is_file());
}

/// `sweep merge` refuses a damaged or edited part, naming its file: a shard
/// index outside 1..=N, or a run time no run has (it would reach the medians).
#[test]
fn a_damaged_part_is_refused_naming_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let at = dir.path().to_str().unwrap();
    for k in 1..=2 {
        ok_s(&sweep_args(&["--shard", &format!("{k}/2"), "--out", at]));
    }
    let part = |k: u64| dir.path().join(format!("part-{k}-of-2.json"));
    let good: serde_json::Value = serde_json::from_slice(&fs::read(part(2)).unwrap()).unwrap();
    let bad = dir.path().join("bad.json");
    let mut zero = good.clone();
    zero["shard"] = serde_json::json!([0, 2]);
    let mut negative = good.clone();
    negative["cells"][0]["runs"][0]["rollout_duration_s"] = serde_json::json!(-5e300);
    for (damaged, says) in [(zero, "0/2 is not a shard"), (negative, "times no run has")] {
        fs::write(&bad, serde_json::to_vec(&damaged).unwrap()).unwrap();
        let e = refused(&[
            "sweep",
            "merge",
            part(1).to_str().unwrap(),
            bad.to_str().unwrap(),
        ]);
        assert!(e.contains("bad.json: ") && e.contains(says), "{e}");
        assert!(
            !e.contains("Some(") && !e.contains("None"),
            "no Rust in it: {e}"
        );
    }
}

/// A rerun into the same `--out` leaves no picture beside its results that
/// it did not draw (an SVG left by an earlier sweep looked current beside a
/// PNG): `sweep` and `sweep merge` alike.
#[test]
fn a_rerun_removes_the_earlier_picture_it_does_not_draw() {
    let drawn = cfg!(feature = "plot");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let at = out.to_str().unwrap();
    let both = |extra: &[&str]| -> Vec<String> {
        let mut a = vec![
            "sweep",
            LEAK,
            "scenarios/checkout-good.toml",
            "--policy",
            "memory-trend",
            "--runs",
            "2",
        ];
        a.extend(extra);
        a.iter().map(|s| s.to_string()).collect()
    };
    let pictures = |dir: &Path| {
        (
            dir.join("tradeoff.svg").exists(),
            dir.join("tradeoff.png").exists(),
        )
    };
    ok_s(&both(&["--out", at, "--plots", "png"]));
    assert_eq!(pictures(&out), (false, drawn));
    ok_s(&both(&["--out", at]));
    assert_eq!(pictures(&out), (drawn, false), "the PNG is gone");
    ok_s(&both(&["--out", at, "--plots", "none"]));
    assert_eq!(pictures(&out), (false, false), "the SVG is gone");
    assert!(out.join("result.json").is_file());
    // `sweep merge --out` into the same directory.
    for k in 1..=2 {
        ok_s(&both(&["--shard", &format!("{k}/2"), "--out", at]));
    }
    let merge = |plots: &str| {
        ok(&[
            "sweep",
            "merge",
            out.join("part-1-of-2.json").to_str().unwrap(),
            out.join("part-2-of-2.json").to_str().unwrap(),
            "--out",
            at,
            "--plots",
            plots,
        ])
    };
    merge("svg");
    assert_eq!(pictures(&out), (drawn, false));
    merge("png");
    assert_eq!(pictures(&out), (false, drawn), "the SVG is gone");
}

#[test]
fn a_resumed_sweep_ends_with_the_bytes_of_an_uninterrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let whole = ok_s(&sweep_args(&["--format", "json", "--out", out]));
    let result = fs::read(dir.path().join("result.json")).unwrap();
    assert_eq!(result, whole);
    // As if interrupted after the first cell: the second cell and the
    // results are gone, a temporary file is left.
    let cells = dir.path().join("cells");
    let mut names: Vec<_> = fs::read_dir(&cells)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    fs::remove_file(&names[1]).unwrap();
    fs::remove_file(dir.path().join("result.json")).unwrap();
    fs::write(cells.join(".00001-1-of-1.json.tmp-1"), "{\"half").unwrap();
    let resumed = canarysim()
        .args(sweep_args(&["--format", "json", "--out", out, "--resume"]))
        .output()
        .unwrap();
    assert!(resumed.status.success());
    assert_eq!(resumed.stdout, whole);
    assert!(String::from_utf8_lossy(&resumed.stderr).contains("3 runs read back"));
    assert_eq!(fs::read(dir.path().join("result.json")).unwrap(), whole);
    assert!(!cells.join(".00001-1-of-1.json.tmp-1").exists());
    // Another sweep is not resumed from this directory.
    let other = canarysim()
        .args(another_sweep(&["--out", out, "--resume"]))
        .output()
        .unwrap();
    assert_eq!(other.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&other.stderr).contains("another sweep"));
}

#[test]
fn one_and_two_threads_give_the_same_bytes() {
    let args = sweep_args(&["--format", "csv"]);
    let run = |threads: &str| {
        let out = canarysim()
            .env("RAYON_NUM_THREADS", threads)
            .args(&args)
            .output()
            .unwrap();
        assert!(out.status.success());
        out.stdout
    };
    let one = run("1");
    assert_eq!(one, run("2"));
    assert_eq!(
        String::from_utf8_lossy(&one).lines().count(),
        3,
        "header and two cells"
    );
}

#[test]
fn the_shipped_sweep_file_reads_and_names_its_nine_variants() {
    let spec = canarysim::sweep::SweepSpec::parse(
        "scenarios/sweeps/memory-trend.toml",
        &fs::read_to_string("scenarios/sweeps/memory-trend.toml").unwrap(),
    )
    .unwrap();
    assert_eq!(spec.variants().len(), 9);
    let cells = canarysim::sweep::prepare(
        &crate::fixtures::Disk,
        &spec,
        Path::new("scenarios/sweeps"),
        &[],
    )
    .unwrap();
    assert_eq!(cells.len(), 18, "2 scenarios × 9 variants of one policy");
}

#[test]
fn a_scenario_extends_its_base_key_by_key_and_errors_point_into_the_file_that_holds_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::env::current_dir().unwrap();
    let base = fs::read_to_string(root.join("scenarios/checkout-good.toml")).unwrap();
    // The base with its manifests beside it, the build that extends it one
    // directory down.
    let proj = dir.path().join("proj");
    fs::create_dir_all(proj.join("builds")).unwrap();
    copy_dir(&root.join("scenarios/argo"), &proj.join("argo"));
    fs::write(proj.join("base.toml"), &base).unwrap();
    let slow = "extends = \"../base.toml\"\nname = \"checkout-slow\"\n\n[versions.canary]\nfault = \"slow\"\nmemory = { leak_per_request = \"17.3Ki\" }\n";
    fs::write(proj.join("builds/slow.toml"), slow).unwrap();
    let child = proj.join("builds/slow.toml");
    let r = json(&[
        "run",
        child.to_str().unwrap(),
        "--policy",
        "memory-trend",
        "--format",
        "json",
    ]);
    assert_eq!(r["runs"][0]["scenario"], "checkout-slow");
    assert_eq!(r["runs"][0]["canary_bad"], true, "the child's fault");
    assert_eq!(
        r["runs"][0]["verdict"], "caught",
        "the child's leak, the base's policy"
    );
    // A bad key in the child: located in the child.
    fs::write(&child, format!("{slow}[rollout]\nreplicas = -1\n")).unwrap();
    let e = refused(&["run", child.to_str().unwrap()]);
    assert!(e.contains("slow.toml:8:"), "{e}");
    // A bad key only the base holds: located in the base.
    fs::write(&child, slow).unwrap();
    fs::write(
        proj.join("base.toml"),
        base.replace("rate = 60", "rate = -60"),
    )
    .unwrap();
    let e = refused(&["run", child.to_str().unwrap()]);
    let line = base
        .lines()
        .position(|l| l.starts_with("rate = 60"))
        .unwrap()
        + 1;
    assert!(e.contains(&format!("base.toml:{line}:")), "{e}");
    // A cycle is refused.
    fs::write(proj.join("base.toml"), "extends = \"builds/slow.toml\"\n").unwrap();
    let e = refused(&["run", child.to_str().unwrap()]);
    assert!(e.contains("extends this file again"), "{e}");
}

#[test]
fn a_base_s_manifest_paths_resolve_from_the_base_not_from_the_file_that_extends_it() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("a/b");
    fs::create_dir_all(&sub).unwrap();
    let root = std::env::current_dir().unwrap();
    let child = sub.join("good.toml");
    fs::write(
        &child,
        format!(
            "extends = \"{}\"\nname = \"elsewhere\"\n",
            root.join("scenarios/checkout-good.toml").display()
        ),
    )
    .unwrap();
    let r = json(&[
        "run",
        child.to_str().unwrap(),
        "--policy",
        "memory-trend",
        "--format",
        "json",
    ]);
    assert_eq!(r["runs"][0]["scenario"], "elsewhere");
    assert!(
        !r["runs"][0]["analysis_runs"].as_array().unwrap().is_empty(),
        "the base's templates were found"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            fs::copy(&p, &dest).unwrap();
        }
    }
}

#[test]
fn a_sweep_stopped_by_sigint_resumes_to_the_bytes_of_an_uninterrupted_one() {
    let plain = ok_s(&sweep_args(&["--format", "json"]));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("canarysim"))
        .args(sweep_args(&["--format", "json", "--out", out]))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Stop it once the first cell is written (or when it has finished).
    let cells = dir.path().join("cells");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while std::time::Instant::now() < deadline
        && fs::read_dir(&cells).map_or(0, |d| d.count()) == 0
        && child.try_wait().unwrap().is_none()
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let _ = child.wait();
    // Whatever it left is whole: every file there reads as JSON.
    for e in fs::read_dir(&cells).unwrap() {
        let p = e.unwrap().path();
        if !p.file_name().unwrap().to_string_lossy().starts_with('.') {
            let _: serde_json::Value = serde_json::from_slice(&fs::read(&p).unwrap())
                .unwrap_or_else(|e| panic!("{} is not whole: {e}", p.display()));
        }
    }
    let resumed = ok_s(&sweep_args(&["--format", "json", "--out", out, "--resume"]));
    assert_eq!(resumed, plain);
}

#[test]
fn html_output_is_one_page_with_the_trade_off_and_both_tables() {
    let page = String::from_utf8(ok(&[
        "sweep",
        LEAK,
        "scenarios/checkout-good.toml",
        "--policy",
        "memory-trend",
        "--runs",
        "2",
        "--vary",
        &format!("{FL}=0,1"),
        "--format",
        "html",
    ]))
    .unwrap();
    assert!(
        page.starts_with("<!DOCTYPE html>"),
        "{}",
        &page[..page.len().min(80)]
    );
    assert_eq!(page.matches("<table").count(), 2, "variants and cells");
    assert!(page.contains("failureLimit=0"));
    assert!(!page.contains("<script"), "no script needed");
    if cfg!(feature = "plot") {
        assert!(page.contains("<svg"), "the trade-off plot is inline");
    }
}

#[test]
fn runs_from_the_command_line_are_bounded_as_a_file_s_are() {
    let e = refused(&[
        "sweep",
        "scenarios/sweeps/memory-trend.toml",
        "--runs",
        "18446744073709551615",
    ]);
    assert!(e.contains("--runs") && e.contains("more than"), "{e}");
}

#[test]
fn a_scenario_without_policies_is_refused_as_run_refuses_it() {
    // It printed "0 cells, 0 runs" and an empty table, and exited 0.
    let e = refused(&[
        "sweep",
        "scenarios/checkout-good.toml",
        "--set",
        "policies=[]",
    ]);
    assert!(e.contains("has no policies to sweep"), "{e}");
}
