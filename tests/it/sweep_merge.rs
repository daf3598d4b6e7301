//! `canarysim sweep merge` refuses a part no shard writes, naming its file
//! and writing nothing: each test edits a real part of a small sweep as one
//! rule forbids, and legitimate parts still merge to the unsharded bytes.

use std::fs;
use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::{Value, json};

fn canarysim() -> Command {
    Command::cargo_bin("canarysim").expect("binary builds")
}

/// A sweep of a bad and a good release, memory-trend over seeds 1 to 3:
/// cell 0 is the leak (every run caught), cell 1 the good build (every run
/// promoted).
fn sweep_args(extra: &[&str]) -> Vec<String> {
    [
        "sweep",
        "scenarios/checkout-leak.toml",
        "scenarios/checkout-good.toml",
        "--policy",
        "memory-trend",
        "--runs",
        "3",
    ]
    .iter()
    .chain(extra)
    .map(|s| s.to_string())
    .collect()
}

fn ok(args: &[String]) -> Vec<u8> {
    let out = canarysim().args(args).output().expect("runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The parts of the sweep's two shards, written by `--shard K/2 --out`.
struct Parts {
    dir: tempfile::TempDir,
}

impl Parts {
    fn new() -> Parts {
        let dir = tempfile::tempdir().unwrap();
        let at = dir.path().to_str().unwrap();
        for k in 1..=2 {
            ok(&sweep_args(&["--shard", &format!("{k}/2"), "--out", at]));
        }
        Parts { dir }
    }

    fn path(&self, k: u64) -> PathBuf {
        self.dir.path().join(format!("part-{k}-of-2.json"))
    }

    /// Shard 2's part: cell 0 holds seed 2, cell 1 seeds 1 and 3.
    fn second(&self) -> Value {
        let part: Value = serde_json::from_slice(&fs::read(self.path(2)).unwrap()).unwrap();
        assert_eq!(part["cells"][0]["runs"][0]["verdict"], "caught");
        assert_eq!(part["cells"][1]["runs"][0]["verdict"], "promoted");
        part
    }

    /// Merges shard 1's part with `edited` in place of shard 2's: refused
    /// (exit 2) naming the edited file, nothing on stdout and no `--out`
    /// directory made. Returns stderr.
    fn refused(&self, edited: &Value) -> String {
        let e = self.refused_as_any(edited);
        assert!(e.contains("edited.json: shard 2/2: cell "), "{e}");
        assert!(e.contains("a damaged or edited part"), "{e}");
        e
    }

    /// [`Parts::refused`] without the form of a per-cell error. Returns stderr.
    fn refused_as_any(&self, edited: &Value) -> String {
        let file = self.dir.path().join("edited.json");
        fs::write(&file, serde_json::to_vec_pretty(edited).unwrap()).unwrap();
        let merged = self.dir.path().join("merged");
        let out = canarysim()
            .args(["sweep", "merge"])
            .arg(self.path(1))
            .arg(&file)
            .arg("--out")
            .arg(&merged)
            .output()
            .unwrap();
        let e = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{e}");
        assert!(out.stdout.is_empty(), "nothing on stdout when refused");
        assert!(!merged.exists(), "nothing written when refused");
        e
    }
}

/// Run `r` of cell `c`.
fn run(part: &mut Value, c: usize, r: usize) -> &mut Value {
    &mut part["cells"][c]["runs"][r]
}

fn runs(part: &mut Value, c: usize) -> &mut Vec<Value> {
    part["cells"][c]["runs"].as_array_mut().unwrap()
}

#[test]
fn legitimate_parts_of_both_releases_merge_to_the_bytes_of_the_unsharded_sweep() {
    let parts = Parts::new();
    let merged = ok(&[
        "sweep".into(),
        "merge".into(),
        parts.path(1).display().to_string(),
        parts.path(2).display().to_string(),
        "--format".into(),
        "json".into(),
    ]);
    assert_eq!(merged, ok(&sweep_args(&["--format", "json"])));
}

#[test]
fn a_seed_outside_the_sweep_s_seeds_is_refused() {
    let parts = Parts::new();
    let mut part = parts.second();
    run(&mut part, 0, 0)["seed"] = json!(4);
    let e = parts.refused(&part);
    assert!(
        e.contains("seed 4 is not one of the sweep's seeds (1 to 3)"),
        "{e}"
    );
}

/// A run of shard 1 copied into shard 2's part: the same (cell, seed)
/// would be given by two parts.
#[test]
fn a_seed_of_another_shard_is_refused_so_no_run_is_given_by_two_parts() {
    let parts = Parts::new();
    let first: Value = serde_json::from_slice(&fs::read(parts.path(1)).unwrap()).unwrap();
    let mut part = parts.second();
    runs(&mut part, 0).insert(0, first["cells"][0]["runs"][0].clone());
    let e = parts.refused(&part);
    assert!(
        e.contains("cell 0 (scenarios/checkout-leak.toml memory-trend)"),
        "{e}"
    );
    assert!(e.contains("seed 1 is shard 1/2's, not this one's"), "{e}");
}

#[test]
fn a_seed_given_twice_in_a_cell_is_refused() {
    let parts = Parts::new();
    let mut part = parts.second();
    let once = run(&mut part, 1, 0).clone();
    runs(&mut part, 1)[1] = once;
    let e = parts.refused(&part);
    assert!(
        e.contains("cell 1 ") && e.contains("seed 1 is given twice"),
        "{e}"
    );
}

#[test]
fn a_cell_with_more_runs_than_the_sweep_runs_is_refused() {
    let parts = Parts::new();
    let mut part = parts.second();
    let extra = runs(&mut part, 1).clone();
    runs(&mut part, 1).extend(extra);
    let e = parts.refused(&part);
    assert!(
        e.contains("4 runs, and the sweep runs 3 seeds a cell"),
        "{e}"
    );
}

/// A shard writes its part only when all its runs are made (an interrupted
/// one leaves cell files, not a part), so a part short of them was edited.
#[test]
fn a_cell_short_of_the_runs_its_shard_makes_is_refused() {
    let parts = Parts::new();
    let mut part = parts.second();
    runs(&mut part, 1).pop();
    let e = parts.refused(&part);
    assert!(
        e.contains("cell 1 ") && e.contains("holds 1 of the 2 runs its shard makes"),
        "{e}"
    );
}

#[test]
fn a_run_whose_release_is_not_its_cell_s_is_refused() {
    let parts = Parts::new();
    let mut part = parts.second();
    run(&mut part, 0, 0)["canary_bad"] = json!(false);
    let e = parts.refused(&part);
    assert!(
        e.contains("seed 2: canary_bad is false in the cell of a bad release"),
        "{e}"
    );
}

#[test]
fn a_verdict_for_the_other_release_is_refused() {
    let parts = Parts::new();
    let mut part = parts.second();
    run(&mut part, 0, 0)["verdict"] = json!("false_abort");
    let e = parts.refused(&part);
    assert!(
        e.contains("verdict false_abort is for a good release, and canary_bad is true"),
        "{e}"
    );
}

#[test]
fn time_to_detect_is_given_for_a_caught_run_and_no_other() {
    let parts = Parts::new();
    let mut none = parts.second();
    run(&mut none, 0, 0)["time_to_detect_s"] = Value::Null;
    let e = parts.refused(&none);
    assert!(
        e.contains("time_to_detect_s is null with verdict caught: a caught run has one"),
        "{e}"
    );
    let mut promoted = parts.second();
    run(&mut promoted, 1, 0)["time_to_detect_s"] = json!(30.0);
    let e = parts.refused(&promoted);
    assert!(
        e.contains("time_to_detect_s is given with verdict promoted"),
        "{e}"
    );
}

/// A caught run is decided by the abort that caught it: its time to
/// detect is its rollout's duration (an edit would move the medians).
#[test]
fn a_caught_run_s_time_to_detect_is_its_rollout_duration() {
    let parts = Parts::new();
    let mut part = parts.second();
    run(&mut part, 0, 0)["time_to_detect_s"] = json!(100.0);
    let e = parts.refused(&part);
    assert!(
        e.contains("time_to_detect_s 100 is not rollout_duration_s 346"),
        "{e}"
    );
}

#[test]
fn failed_after_promotion_is_given_for_a_promoted_or_missed_run_and_no_other() {
    let parts = Parts::new();
    let mut caught = parts.second();
    run(&mut caught, 0, 0)["failed_after_promotion"] = json!(5);
    let e = parts.refused(&caught);
    assert!(
        e.contains("failed_after_promotion is given with verdict caught"),
        "{e}"
    );
    let mut promoted = parts.second();
    run(&mut promoted, 1, 0)["failed_after_promotion"] = Value::Null;
    let e = parts.refused(&promoted);
    assert!(
        e.contains("failed_after_promotion is null with verdict promoted"),
        "{e}"
    );
}

#[test]
fn failed_after_abort_is_given_for_a_caught_or_falsely_aborted_run_and_no_other() {
    let parts = Parts::new();
    let mut promoted = parts.second();
    run(&mut promoted, 1, 0)["failed_after_abort"] = json!(5);
    let e = parts.refused(&promoted);
    assert!(
        e.contains("failed_after_abort is given with verdict promoted"),
        "{e}"
    );
    let mut caught = parts.second();
    run(&mut caught, 0, 0)["failed_after_abort"] = Value::Null;
    let e = parts.refused(&caught);
    assert!(
        e.contains("failed_after_abort is null with verdict caught"),
        "{e}"
    );
}

/// A run aborted before promotion has a cause; an undecided run never
/// aborted, so it has none.
#[test]
fn an_abort_cause_is_given_for_an_aborted_run_and_not_for_an_undecided_one() {
    let parts = Parts::new();
    let mut caught = parts.second();
    run(&mut caught, 0, 0)["abort_cause"] = Value::Null;
    let e = parts.refused(&caught);
    assert!(e.contains("abort_cause is null with verdict caught"), "{e}");
    let mut undecided = parts.second();
    let r = run(&mut undecided, 1, 0);
    r["verdict"] = json!("undecided");
    r["failed_after_promotion"] = Value::Null;
    r["abort_cause"] = json!("Failed");
    let e = parts.refused(&undecided);
    assert!(
        e.contains("abort_cause is given with verdict undecided"),
        "{e}"
    );
}

#[test]
fn an_abort_cause_is_one_a_sweep_names() {
    let parts = Parts::new();
    let mut part = parts.second();
    run(&mut part, 0, 0)["abort_cause"] = json!("Timeout");
    let e = parts.refused(&part);
    assert!(
        e.contains(r#"abort_cause "Timeout" is none of "Failed", "Error""#),
        "{e}"
    );
}

/// Operator aborts name no gate: only a Failed or Error analysis run does.
#[test]
fn gates_are_named_only_for_an_abort_by_a_failed_or_error_analysis() {
    let parts = Parts::new();
    let mut part = parts.second();
    run(&mut part, 0, 0)["abort_cause"] = json!("operator");
    let e = parts.refused(&part);
    assert!(
        e.contains(r#"with abort_cause "operator": only an abort by a Failed or Error analysis names gates"#),
        "{e}"
    );
}

#[test]
fn a_part_claiming_a_hundred_million_shards_is_refused_at_once_naming_a_few() {
    // Shard 1 of 10^8 runs only the first (cell, seed) pair: a part that
    // says so passes every check of its own, and the merge then lacks
    // 99,999,999 shards. It used to list every one of them (34 s, 9 GB).
    let parts = Parts::new();
    let mut part: Value = serde_json::from_slice(&fs::read(parts.path(1)).unwrap()).unwrap();
    part["shard"] = json!([1, 100_000_000u64]);
    runs(&mut part, 0).retain(|r| r["seed"] == 1);
    runs(&mut part, 1).clear();
    let file = parts.dir.path().join("huge.json");
    fs::write(&file, serde_json::to_vec(&part).unwrap()).unwrap();
    let out = canarysim()
        .args(["sweep", "merge"])
        .arg(&file)
        .timeout(std::time::Duration::from_secs(20))
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(
        e.contains("missing shards: 2/100000000, 3/100000000,") && e.contains("(99999999 in all)"),
        "{e}"
    );
    assert!(e.len() < 2_000, "{} bytes of error", e.len());
}

#[test]
fn a_part_whose_sweep_runs_no_seeds_is_refused() {
    // Every cell empty and the header's runs 0 passed every other check,
    // and merged into cells of no runs.
    let parts = Parts::new();
    let mut part = parts.second();
    part["sweep"]["runs"] = json!(0);
    runs(&mut part, 0).clear();
    runs(&mut part, 1).clear();
    let e = parts.refused_as_any(&part);
    assert!(
        e.contains("edited.json: shard 2/2: the sweep runs 0 seeds a cell"),
        "{e}"
    );
}

/// Shard 1/2 of a sweep of the good release over two rates.
fn varied_part() -> Value {
    let out = ok(&[
        "sweep".into(),
        "scenarios/checkout-good.toml".into(),
        "--policy".into(),
        "manual".into(),
        "--vary".into(),
        "traffic.rate=60,120".into(),
        "--runs".into(),
        "1".into(),
        "--shard".into(),
        "1/2".into(),
        "--format".into(),
        "json".into(),
    ]);
    serde_json::from_slice(&out).unwrap()
}

fn merge_one(dir: &std::path::Path, part: &Value) -> String {
    let file = dir.join("edited.json");
    fs::write(&file, serde_json::to_vec(part).unwrap()).unwrap();
    let out = canarysim()
        .args(["sweep", "merge"])
        .arg(&file)
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(e.contains("edited.json: shard 1/2: "), "{e}");
    assert!(e.contains("a damaged or edited part"), "{e}");
    e
}

#[test]
fn a_part_whose_cells_are_not_the_ones_its_axes_give_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let part = varied_part();
    // A cell missing: the axis gives two.
    let mut short = part.clone();
    short["cells"].as_array_mut().unwrap().pop();
    let e = merge_one(dir.path(), &short);
    assert!(e.contains("manual has 1 cells, and its axes give 2"), "{e}");
    // The same cell twice, in place of the other.
    let mut twice = part.clone();
    twice["cells"][1] = twice["cells"][0].clone();
    let e = merge_one(dir.path(), &twice);
    assert!(e.contains("traffic.rate=60 is given twice"), "{e}");
    // A value the axis does not have.
    let mut alien = part.clone();
    alien["cells"][1]["set"]["traffic.rate"] = json!(999);
    let e = merge_one(dir.path(), &alien);
    assert!(
        e.contains("traffic.rate=999 is none of its axis's values"),
        "{e}"
    );
}

#[test]
fn errors_from_comparing_parts_name_the_files_involved() {
    let parts = Parts::new();
    let first = parts.path(1).display().to_string();
    // Another sweep: the header differs, each part is sound on its own.
    let mut other = parts.second();
    other["sweep"]["file"] = json!("elsewhere.toml");
    let e = parts.refused_as_any(&other);
    assert!(
        e.contains("edited.json: shard 2/2 is of another sweep than ") && e.contains(&first),
        "{e}"
    );
    // A cell that differs between the parts.
    let mut moved = parts.second();
    moved["cells"][1]["scenario_file"] = json!("scenarios/checkout-slow.toml");
    let e = parts.refused_as_any(&moved);
    assert!(
        e.contains("cell 1 differs between ") && e.contains(&first) && e.contains("edited.json"),
        "{e}"
    );
    // The same shard twice.
    let out = canarysim()
        .args(["sweep", "merge"])
        .arg(parts.path(1))
        .arg(parts.path(1))
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(
        e.contains(&format!(
            "shard 1/2 is given twice: by {first} and by {first}"
        )),
        "{e}"
    );
    // A shard missing: the parts given are named.
    let out = canarysim()
        .args(["sweep", "merge"])
        .arg(parts.path(1))
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains(&format!("missing shards: 2/2; given: {first} (1/2)")),
        "{e}"
    );
}
