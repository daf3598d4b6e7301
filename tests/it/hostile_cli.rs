//! Hostile conditions at the command line (issue 15): output that cannot be
//! written (a full disk, a closed pipe), SIGINT and SIGTERM while `--out` is
//! written, names that would leave `--out`, inputs that are not files, and
//! flags past their limits. Each checks the exit code, the message, and that
//! nothing is left on disk but the old directory or the complete new one.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};
use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;

use crate::fixtures;

/// The fixtures' one-endpoint service with a stable build (`extra` starts
/// inside its table) and a canary build like it unless `extra` has one.
fn scenario_text(replicas: u32, rate: f64, workers_per_cpu: f64, extra: &str) -> String {
    let canary = if extra.contains("[versions.canary]") {
        ""
    } else {
        "\n[versions.canary]\n"
    };
    fixtures::scenario_text(
        replicas,
        rate,
        workers_per_cpu,
        &format!(
            "[versions.stable]\nlatency = {{ get = {{ dist = \"constant\", value = \"5ms\" }} }}\n{extra}{canary}"
        ),
    )
}

const GOOD: &str = "scenarios/checkout-good.toml";

fn canarysim() -> Command {
    Command::cargo_bin("canarysim").expect("binary builds")
}

fn binary() -> PathBuf {
    assert_cmd::cargo::cargo_bin("canarysim")
}

/// Every file below `dir` with its bytes, sorted by path.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push((
                    p.strip_prefix(root).unwrap().to_path_buf(),
                    fs::read(&p).unwrap(),
                ));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Names in `parent` that a write to `out` may have left: temporary or old
/// copies.
fn leftovers(parent: &Path) -> Vec<String> {
    fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-") || n.contains(".old-"))
        .collect()
}

fn write_scenario(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, text).unwrap();
    p
}

/// A small scenario with one policy: quick to run many times.
fn small(policy: &str) -> String {
    scenario_text(
        2,
        5.0,
        4.0,
        &format!(
            "[[policies]]\nname = \"{policy}\"\nsteps = [ {{ setWeight = 50 }}, {{ pause = {{ duration = \"1m\" }} }} ]\n"
        ),
    )
}

#[test]
fn a_full_disk_while_writing_out_leaves_the_old_directory_intact_and_no_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    canarysim()
        .args([
            "run",
            GOOD,
            "--policy",
            "manual",
            "--series",
            "csv",
            "--out",
            out.to_str().unwrap(),
        ])
        .assert()
        .success();
    let before = tree(&out);
    assert!(before.iter().any(|(p, _)| p == Path::new("series.csv")));
    // A file-size limit makes every write past 64 KiB fail, as a full disk
    // does; SIGXFSZ is ignored so the write returns the error instead.
    let script = format!(
        "trap '' XFSZ; ulimit -f 64; exec {} run {GOOD} --policy manual --series csv --seed 7 --out {}",
        binary().display(),
        out.display()
    );
    let status = Process::new("bash")
        .args(["-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert_eq!(status.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot write"), "{stderr}");
    assert!(tree(&out) == before, "the old directory is untouched");
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );
}

#[test]
fn a_second_run_replaces_the_directory_whole_without_stale_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    canarysim()
        .args([
            "run",
            GOOD,
            "--policy",
            "manual",
            "--out",
            out.to_str().unwrap(),
        ])
        .assert()
        .success();
    fs::create_dir_all(out.join("locust/gone")).unwrap();
    fs::write(out.join("locust/gone/x_stats.csv"), "stale").unwrap();
    canarysim()
        .args([
            "run",
            GOOD,
            "--policy",
            "manual",
            "--runs",
            "2",
            "--out",
            out.to_str().unwrap(),
        ])
        .assert()
        .success();
    let names: Vec<PathBuf> = tree(&out).into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        names,
        [
            ".canarysim-out",
            "events.csv",
            "plots/compare.svg",
            "result.json"
        ]
        .map(PathBuf::from),
        "only the second run's files: its events, its result and its comparison plot"
    );
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn out_refuses_a_directory_that_holds_files_canarysim_did_not_write() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    canarysim()
        .args([
            "run",
            GOOD,
            "--policy",
            "manual",
            "--out",
            dir.path().to_str().unwrap(),
        ])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("holds files canarysim did not write")
                // Checked before any run: none reported its events.
                .and(predicate::str::contains("simulated s in").not()),
        );
    assert_eq!(
        fs::read_to_string(dir.path().join("notes.txt")).unwrap(),
        "mine"
    );
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

/// `run --runs N --out` checks its directory before the runs too: 5,000
/// flagship runs would take minutes, the refusal comes at once.
#[test]
fn out_with_runs_is_checked_before_the_runs() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    canarysim()
        .args(["run", GOOD, "--runs", "5000", "--out"])
        .arg(dir.path())
        .timeout(Duration::from_secs(30))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "holds files canarysim did not write",
        ));
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

/// Sends `signal` to a `run --runs --out` after `after`, then checks that the
/// output directory is either the old one or a complete new one, and that no
/// temporary files are left.
fn interrupt_run(signal: &str, after: Duration) {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(dir.path(), "s.toml", &small("p"));
    let out = dir.path().join("out");
    let args = |seed: &str| {
        vec![
            "run".to_string(),
            scenario.display().to_string(),
            "--runs".to_string(),
            "300".to_string(),
            "--seed".to_string(),
            seed.to_string(),
            "--out".to_string(),
            out.display().to_string(),
        ]
    };
    let first = Process::new(binary()).args(args("1")).output().unwrap();
    assert!(first.status.success());
    let old = tree(&out);
    let mut child = Process::new(binary())
        .args(args("5000"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    let _ = Process::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    let now = tree(&out);
    // Either the old directory, or the new one complete (the signal may come
    // after the swap, while the table is printed).
    if now != old {
        // The new directory, complete: every run of the second batch.
        let result = now
            .iter()
            .find(|(p, _)| p == Path::new("result.json"))
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&result.1).unwrap();
        assert_eq!(json["runs"].as_array().unwrap().len(), 300);
        assert_eq!(json["runs"][0]["seed"], 5000);
        assert_eq!(now.len(), old.len());
    }
    if !status.success() {
        // 128 + the signal when the handler ran; killed by it outright when
        // the signal came before the handler was installed.
        let expected = if signal == "INT" { 2 } else { 15 };
        use std::os::unix::process::ExitStatusExt;
        assert!(
            status.code() == Some(128 + expected) || status.signal() == Some(expected),
            "{signal} after {after:?}: {status:?}"
        );
    }
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );
}

#[test]
fn sigint_or_sigterm_during_runs_with_out_leave_the_old_or_the_new_directory() {
    for (signal, ms) in [
        ("INT", 50),
        ("INT", 300),
        ("TERM", 150),
        ("INT", 900),
        ("TERM", 1500),
    ] {
        interrupt_run(signal, Duration::from_millis(ms));
    }
}

/// `run --out` writes each run's files as the run ends: a signal while it
/// writes removes the unfinished directory, and nothing written after the
/// signal brings it back.
#[test]
fn a_signal_while_run_out_writes_its_series_leaves_no_temporary_directory() {
    for ms in [150, 300, 450, 700] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let mut child = Process::new(binary())
            .args([
                "run", GOOD, "--policy", "manual", "--series", "csv", "--out",
            ])
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(ms));
        let _ = Process::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert!(
            status.success() || status.code() == Some(130) || status.signal() == Some(2),
            "after {ms} ms: {status:?}"
        );
        assert!(
            leftovers(dir.path()).is_empty(),
            "after {ms} ms: {:?}",
            leftovers(dir.path())
        );
        if status.success() {
            assert!(out.join("series.csv").is_file() && out.join("result.json").is_file());
        } else {
            assert!(!out.exists(), "after {ms} ms");
        }
    }
}

#[test]
fn a_policy_named_to_climb_out_of_out_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(dir.path(), "s.toml", &small("../../../x"));
    let out = dir.path().join("sub/out");
    canarysim()
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("s.toml:")
                .and(predicate::str::contains("cannot name a policy")),
        );
    assert!(!dir.path().join("sub").exists());
    assert!(!dir.path().join("x").exists());
}

#[test]
fn runs_past_the_limit_is_a_usage_error_not_a_capacity_panic() {
    canarysim()
        .args(["run", GOOD, "--runs", "18446744073709551615"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--runs").and(predicate::str::contains("panicked").not()));
    canarysim()
        .args(["run", GOOD, "--runs", "10001"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("10000"));
}

#[test]
fn a_full_standard_output_is_an_error_and_a_closed_pipe_ends_quietly() {
    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = Process::new(binary())
        .args(["run", GOOD, "--policy", "manual"])
        .stdout(full)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot write to standard output"),
        "{stderr}"
    );

    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = Process::new(binary())
        .args(["promql", "test", "tests/data/promqltest/literals.test"])
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));

    // `| head -c5`: read five bytes, close the pipe.
    let mut child = Process::new(binary())
        .args(["query", GOOD, "--at", "5m", "{__name__=~\".+\"}"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut five = [0u8; 5];
    child.stdout.take().unwrap().read_exact(&mut five).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("error"),
        "{stderr}"
    );
}

#[test]
fn a_fifo_or_a_device_as_input_is_refused_without_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("m.yaml");
    assert!(
        Process::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    // As a scenario, a manifest and a promqltest file: refused at once (a
    // read would block until a writer comes).
    canarysim()
        .args(["run", fifo.to_str().unwrap()])
        .timeout(Duration::from_secs(20))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a regular file"));
    canarysim()
        .args(["lint", fifo.to_str().unwrap()])
        .timeout(Duration::from_secs(20))
        .assert()
        .code(2)
        .stdout(predicate::str::contains("not a regular file"));
    canarysim()
        .args(["promql", "test", "/dev/zero"])
        .timeout(Duration::from_secs(20))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a regular file"));
    // As a sweep file, a check file, a baseline, a sweep result and a part.
    let f = fifo.to_str().unwrap();
    let x = dir.path().join("x.svg");
    for args in [
        vec!["sweep", f],
        vec!["check", f],
        vec!["check", "scenarios/checks/flagship.toml", "--baseline", f],
        vec!["plot", "sweep", f, "-o", x.to_str().unwrap()],
        vec!["sweep", "merge", f],
    ] {
        canarysim()
            .args(&args)
            .timeout(Duration::from_secs(20))
            .assert()
            .code(2)
            .stderr(predicate::str::contains("not a regular file"));
    }
    let scenario = write_scenario(
        dir.path(),
        "s.toml",
        &scenario_text(
            2,
            5.0,
            4.0,
            "[[policies]]\nname = \"p\"\nmanifests = [\"m.yaml\"]\n",
        ),
    );
    canarysim()
        .args(["run", scenario.to_str().unwrap()])
        .timeout(Duration::from_secs(20))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "not a regular file or a directory",
        ));
}

#[test]
fn lint_exits_2_for_a_file_that_is_not_a_scenario_and_1_for_wrong_values() {
    let dir = tempfile::tempdir().unwrap();
    let typed = write_scenario(
        dir.path(),
        "typed.toml",
        &scenario_text(2, 5.0, 4.0, "").replace("replicas = 2", "replicas = \"two\""),
    );
    let overflow = write_scenario(
        dir.path(),
        "overflow.toml",
        &scenario_text(2, 5.0, 4.0, "").replace("replicas = 2", "replicas = 99999999999999999999"),
    );
    let values = write_scenario(
        dir.path(),
        "values.toml",
        &scenario_text(2, 5.0, 4.0, "").replace("replicas = 2", "replicas = 5000"),
    );
    for path in [&typed, &overflow] {
        canarysim()
            .args(["lint", path.to_str().unwrap()])
            .assert()
            .code(2)
            .stdout(predicate::str::contains("unreadable"));
    }
    canarysim()
        .args(["lint", values.to_str().unwrap()])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("5000 replicas"));
}

/// An output file that is one of the command's inputs is refused before
/// anything runs: `export -o` onto its scenario, `check --junit` onto its
/// check file, and `--junit` and `--save-baseline` onto one file.
#[test]
fn an_output_naming_an_input_is_refused_and_the_input_kept() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(dir.path(), "s.toml", &small("p"));
    let before = fs::read(&scenario).unwrap();
    canarysim()
        .args(["export", scenario.to_str().unwrap(), "--policy", "p", "-o"])
        .arg(dir.path().join(".").join("s.toml"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is an input of this command"));
    assert_eq!(fs::read(&scenario).unwrap(), before);
    let check = dir.path().join("c.toml");
    fs::copy("scenarios/checks/flagship.toml", &check).unwrap();
    let before = fs::read(&check).unwrap();
    canarysim()
        .args(["check", check.to_str().unwrap(), "--junit"])
        .arg(&check)
        .timeout(Duration::from_secs(30))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is an input of this command"));
    assert_eq!(fs::read(&check).unwrap(), before);
    let both = dir.path().join("both.xml");
    canarysim()
        .args(["check", check.to_str().unwrap(), "--junit"])
        .arg(&both)
        .arg("--save-baseline")
        .arg(&both)
        .timeout(Duration::from_secs(30))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("name one file"));
    assert!(!both.exists());
}

/// `--out out/.` and `--out out/sub/..` name `out` itself: the output lands
/// there (they used to run, then fail to rename onto `.`).
#[test]
fn out_written_with_dot_or_dot_dot_names_the_directory_itself() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(dir.path(), "s.toml", &small("p"));
    let out = dir.path().join("out");
    for given in [out.join("."), out.join("sub").join("..")] {
        canarysim()
            .args(["run", scenario.to_str().unwrap(), "--out"])
            .arg(&given)
            .assert()
            .success();
        assert!(out.join("result.json").is_file(), "{}", given.display());
        assert!(leftovers(dir.path()).is_empty());
    }
}

/// An output file that is a named pipe is written through, as a shell's
/// redirection writes it, and stays a pipe; a symbolic link stays a link
/// and the file it names is replaced; a link to nothing, a directory and a
/// path under a file are refused. (Outputs were renamed into place, which
/// put a regular file where a pipe, a device or a link had been.)
#[test]
fn an_output_path_that_is_a_pipe_or_a_link_keeps_what_it_is() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(dir.path(), "s.toml", &small("p"));
    let export = |out: &Path| {
        let mut c = canarysim();
        c.args(["export", scenario.to_str().unwrap(), "--policy", "p", "-o"])
            .arg(out)
            .timeout(Duration::from_secs(60));
        c
    };
    let fifo = dir.path().join("pipe");
    assert!(
        Process::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || fs::read(&fifo).unwrap())
    };
    export(&fifo).assert().success();
    let got = reader.join().unwrap();
    assert!(
        got.starts_with(b"# TYPE"),
        "{:?}",
        &got[..got.len().min(40)]
    );
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());

    let real = dir.path().join("real.om");
    fs::write(&real, "old").unwrap();
    let link = dir.path().join("link.om");
    std::os::unix::fs::symlink("real.om", &link).unwrap();
    export(&link).assert().success();
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        fs::read(&real).unwrap(),
        got,
        "the link's file holds the output"
    );

    let dangling = dir.path().join("dangling.om");
    std::os::unix::fs::symlink("nowhere/x.om", &dangling).unwrap();
    export(&dangling)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("symbolic link to nothing"));
    export(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is a directory"));
    let file = dir.path().join("afile");
    fs::write(&file, "x").unwrap();
    export(&file.join("x.om"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is a file, not a directory"));
    assert!(leftovers(dir.path()).is_empty());
}
