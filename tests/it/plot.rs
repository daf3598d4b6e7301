//! The pictures: SVGs parse as XML, PNGs decode with the figure's size and
//! are not blank, the same input gives the same bytes, and each figure shows
//! what the run or the sweep holds.

use canarysim::analysis::AnalysisPhase;
use canarysim::engine::run;
use canarysim::plot::compare::Comparison;
use canarysim::plot::sweep::{SweepResult, TradeOff};
use canarysim::plot::timeline::Timeline;
use canarysim::plot::{Figure, ImageFormat, render, svg};
use canarysim::report::text::human_secs;
use canarysim::scenario::{self, Scenario};

use crate::fixtures::Disk;

fn flagship(file: &str) -> Scenario {
    scenario::load_file(&Disk, std::path::Path::new(file)).unwrap_or_else(|e| panic!("{e}"))
}

fn timeline(file: &str, policy: &str, seed: u64) -> (Timeline, canarysim::outcome::RunResult) {
    let sc = flagship(file);
    let p = sc.policy(policy).expect("policy");
    let out = run(&sc, p, seed);
    (Timeline::new(&sc, &out.result, &out.series), out.result)
}

/// Every `<text>` of an SVG, after parsing it as XML.
fn svg_texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("SVG is not XML: {e}"));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or("").trim().to_string())
        .collect()
}

fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("a PNG frame");
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

#[test]
fn manual_timeline_marks_what_happened_and_is_the_same_every_time() {
    let (fig, result) = timeline("scenarios/checkout-leak.toml", "manual", 1);
    let a = svg(&fig).unwrap();
    let b = svg(&timeline("scenarios/checkout-leak.toml", "manual", 1).0).unwrap();
    assert_eq!(a, b, "same run, same bytes");
    let texts = svg_texts(&a);
    let promoted = result.rollout.promoted_at_s.expect("manual promotes");
    assert!(
        texts.contains(&format!("promoted {}", human_secs(promoted))),
        "{texts:?}"
    );
    for kind in ["page", "undo"] {
        let e = result.timeline.iter().find(|e| e.kind == kind).expect(kind);
        assert!(
            texts.iter().any(|t| t.ends_with(&human_secs(e.t_s))),
            "no label at {kind}'s time in {texts:?}"
        );
    }
    // One cross per OOM kill shown, the new build's share 100% from promotion.
    assert_eq!(fig.oom_kills.len(), result.oom_kills.len());
    assert!(!fig.oom_kills.is_empty());
    assert!(fig.new_build_share.contains(&(promoted, 100.0)));
    // Stable and canary pods are both there, told apart by image.
    assert!(
        fig.pods
            .iter()
            .any(|p| p.version == canarysim::model::Version::Canary)
    );
    assert!(
        fig.pods
            .iter()
            .any(|p| p.version == canarysim::model::Version::Stable)
    );
    // Canary lines are drawn in the canary's orange.
    assert!(a.contains("stroke=\"#E69F00\""));
}

#[test]
fn memory_trend_timeline_shows_the_failed_gate_against_its_threshold() {
    let (fig, result) = timeline("scenarios/checkout-leak.toml", "memory-trend", 1);
    assert_eq!(fig.metrics.len(), {
        let mut names: Vec<&str> = result
            .analysis_runs
            .iter()
            .flat_map(|a| a.metrics.iter().map(|m| m.name.as_str()))
            .collect();
        names.sort();
        names.dedup();
        names.len()
    });
    let total: usize = result
        .analysis_runs
        .iter()
        .map(|a| a.measurements.len())
        .sum();
    let shown: usize = fig
        .metrics
        .iter()
        .map(|m| {
            // A list value gives one point per element; count measurements.
            let mut ts: Vec<(u64, AnalysisPhase)> = m
                .points
                .iter()
                .map(|p| (p.t_s.to_bits(), p.phase))
                .collect();
            ts.dedup();
            ts.len()
        })
        .sum();
    assert!(shown <= total && shown > 0);
    // Every measurement with a value and a stated threshold agrees with its
    // phase: successful ones meet the threshold, failed ones do not.
    let mut failed_checked = 0;
    for m in &fig.metrics {
        let Some(t) = m.threshold else { continue };
        for p in &m.points {
            let Some(v) = p.value else { continue };
            let meets = match t.op {
                "<" => v < t.value,
                "<=" => v <= t.value,
                ">" => v > t.value,
                _ => v >= t.value,
            };
            match p.phase {
                AnalysisPhase::Successful => assert!(meets, "{}: {v} {} {}", m.name, t.op, t.value),
                AnalysisPhase::Failed => {
                    assert!(!meets, "{}: {v}", m.name);
                    failed_checked += 1;
                }
                _ => {}
            }
        }
    }
    assert!(
        failed_checked > 0,
        "the caught run has failed measurements with values"
    );
    let texts = svg_texts(&svg(&fig).unwrap());
    let abort = result.rollout.aborted_at_s.expect("memory-trend aborts");
    assert!(
        texts.contains(&format!("abort {}", human_secs(abort))),
        "{texts:?}"
    );
}

#[test]
fn png_decodes_with_the_figures_size_and_is_not_blank() {
    let (fig, _) = timeline("scenarios/checkout-leak.toml", "hardened-fixed", 1);
    let bytes = render(&fig, ImageFormat::Png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let (w, h, rgb) = decode_png(&bytes);
    assert_eq!((w, h), fig.size());
    let non_white = rgb.chunks(3).filter(|p| p != &[255, 255, 255]).count();
    assert!(
        non_white > (w * h / 50) as usize,
        "{non_white} drawn pixels"
    );
    // Orange (the canary's pods) is among them.
    assert!(rgb.chunks(3).any(|p| p == [230, 159, 0]));
    assert_eq!(bytes, render(&fig, ImageFormat::Png).unwrap(), "same bytes");
}

#[test]
fn comparison_counts_every_run_per_policy_and_release() {
    let mut results = Vec::new();
    for file in [
        "scenarios/checkout-leak.toml",
        "scenarios/checkout-good.toml",
    ] {
        let sc = flagship(file);
        for name in ["manual", "memory-trend"] {
            let p = sc.policy(name).unwrap();
            for seed in 1..=3 {
                results.push(run(&sc, p, seed).result);
            }
        }
    }
    let fig = Comparison::new(&results);
    assert_eq!(
        fig.rows
            .iter()
            .map(|r| r.policy.as_str())
            .collect::<Vec<_>>(),
        ["manual", "memory-trend"]
    );
    for row in &fig.rows {
        assert_eq!(row.bad.iter().sum::<u32>(), 3, "{row:?}");
        assert_eq!(row.good.iter().sum::<u32>(), 3, "{row:?}");
        let caught = results
            .iter()
            .filter(|r| r.policy == row.policy && r.time_to_detect_s.is_some())
            .count();
        assert_eq!(row.detect_s.len(), caught);
        assert_eq!(row.bad[0] as usize, caught);
        assert!(row.detect_s.windows(2).all(|w| w[0] <= w[1]));
    }
    let texts = svg_texts(&svg(&fig).unwrap());
    assert!(texts.iter().any(|t| t == "manual (3 runs)"), "{texts:?}");
    let (w, h, _) = decode_png(&render(&fig, ImageFormat::Png).unwrap());
    assert_eq!((w, h), fig.size());
}

#[test]
fn sweep_tradeoff_joins_the_pareto_front_and_finds_the_95_percent_fault() {
    let text = std::fs::read_to_string("tests/data/sweep/leak-size.json").unwrap();
    let result = SweepResult::from_json(&text).unwrap();
    let fig = TradeOff::new(&result).unwrap();
    assert_eq!(fig.variants.len(), 3);
    assert_eq!(fig.variants.iter().filter(|v| v.pareto).count(), 2);
    assert_eq!(
        fig.fault_axis.as_deref(),
        Some("versions.canary.memory.leak_per_request")
    );
    // One line per failureLimit; failureLimit 0 reaches 95% at 8Ki, 2 only at 17Ki.
    let line = |fl: &str| {
        fig.fault_lines
            .iter()
            .find(|l| l.label == format!("memory-trend · failureLimit={fl}"))
            .unwrap_or_else(|| panic!("{:?}", fig.fault_lines))
    };
    assert_eq!(line("0").caught_95, Some(8.0 * 1024.0));
    assert_eq!(line("2").caught_95, Some(17.0 * 1024.0));
    assert!(line("0").points.windows(2).all(|w| w[0].0 < w[1].0));
    let svg_text = svg(&fig).unwrap();
    let texts = svg_texts(&svg_text);
    assert!(
        texts.contains(&"memory-trend · failureLimit=0".to_string()),
        "{texts:?}"
    );
    assert!(
        !texts.contains(&"memory-trend · failureLimit=5".to_string()),
        "not on the front"
    );
    assert_eq!(svg_text, svg(&TradeOff::new(&result).unwrap()).unwrap());
    let (w, h, _) = decode_png(&render(&fig, ImageFormat::Png).unwrap());
    assert_eq!((w, h), fig.size());
}

#[test]
fn a_sweep_result_without_rates_or_a_fault_axis_is_an_error_not_an_empty_plot() {
    let result = SweepResult::from_json(r#"{ "cells": [], "variants": [] }"#).unwrap();
    let e = TradeOff::new(&result).unwrap_err();
    assert!(e.to_string().starts_with("nothing to plot"), "{e}");
    let e = SweepResult::from_json("{\n  \"cells\": 3 }").unwrap_err();
    assert!(e.contains("line 2"), "{e}");
}

#[test]
fn plot_commands_write_the_file_or_exit_2_naming_the_problem() {
    use assert_cmd::Command;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t.svg");
    Command::cargo_bin("canarysim")
        .unwrap()
        .args([
            "plot",
            "timeline",
            "scenarios/checkout-leak.toml",
            "--policy",
            "manual",
            "-o",
        ])
        .arg(&out)
        .assert()
        .success();
    svg_texts(&std::fs::read_to_string(&out).unwrap());
    let bad = dir.path().join("t.jpg");
    let a = Command::cargo_bin("canarysim")
        .unwrap()
        .args([
            "plot",
            "timeline",
            "scenarios/checkout-leak.toml",
            "--policy",
            "manual",
            "-o",
        ])
        .arg(&bad)
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert!(err.contains("name it .svg or .png"), "{err}");
    assert!(!bad.exists());
    let json = dir.path().join("bad.json");
    std::fs::write(&json, "{ \"cells\": [\n  { \"policy\": 1 } ] }").unwrap();
    let a = Command::cargo_bin("canarysim")
        .unwrap()
        .args(["plot", "sweep"])
        .arg(&json)
        .args(["-o"])
        .arg(dir.path().join("s.svg"))
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert!(err.contains("bad.json") && err.contains("line 2"), "{err}");
    assert!(!dir.path().join("s.svg").exists());
}

/// `--out` of `run` and `sweep` holds the pictures `plot` draws, byte for
/// byte: a timeline per policy, the comparison of `--runs`, the sweep's
/// trade-off; `--plots png` gives PNGs and `--plots none` none.
#[test]
fn out_directories_of_run_and_sweep_hold_the_pictures_plot_draws() {
    use assert_cmd::Command;
    let dir = tempfile::tempdir().unwrap();
    let bin = || Command::cargo_bin("canarysim").unwrap();
    let run_out = dir.path().join("run");
    bin()
        .args(["run", "scenarios/checkout-leak.toml"])
        .args(["--policy", "manual", "--policy", "memory-trend", "--out"])
        .arg(&run_out)
        .assert()
        .success();
    let mut names: Vec<_> = std::fs::read_dir(run_out.join("plots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["timeline-manual.svg", "timeline-memory-trend.svg"]);
    let drawn = dir.path().join("manual.svg");
    bin()
        .args(["plot", "timeline", "scenarios/checkout-leak.toml"])
        .args(["--policy", "manual", "-o"])
        .arg(&drawn)
        .assert()
        .success();
    let in_out = std::fs::read(run_out.join("plots/timeline-manual.svg")).unwrap();
    assert_eq!(in_out, std::fs::read(&drawn).unwrap());
    svg_texts(std::str::from_utf8(&in_out).unwrap());

    let runs_out = dir.path().join("runs");
    bin()
        .args(["run", "scenarios/checkout-good.toml", "--policy", "manual"])
        .args(["--runs", "3", "--plots", "png", "--out"])
        .arg(&runs_out)
        .assert()
        .success();
    let (w, h, _) = decode_png(&std::fs::read(runs_out.join("plots/compare.png")).unwrap());
    let sc = flagship("scenarios/checkout-good.toml");
    let manual = sc.policy("manual").unwrap();
    let results: Vec<_> = (1..=3).map(|s| run(&sc, manual, s).result).collect();
    assert_eq!((w, h), Comparison::new(&results).size());
    let none_out = dir.path().join("none");
    bin()
        .args(["run", "scenarios/checkout-good.toml", "--policy", "manual"])
        .args(["--plots", "none", "--out"])
        .arg(&none_out)
        .assert()
        .success();
    assert!(none_out.join("result.json").exists());
    assert!(!none_out.join("plots").exists());

    let sweep_out = dir.path().join("sweep");
    bin()
        .args([
            "sweep",
            "scenarios/checkout-leak.toml",
            "scenarios/checkout-good.toml",
        ])
        .args(["--policy", "memory-trend", "--runs", "3"])
        .args([
            "--vary",
            "policy.memory-trend.metric.error-rate.failureLimit=0,1",
        ])
        .arg("--out")
        .arg(&sweep_out)
        .assert()
        .success();
    let drawn = dir.path().join("tradeoff.svg");
    bin()
        .args(["plot", "sweep"])
        .arg(sweep_out.join("result.json"))
        .arg("-o")
        .arg(&drawn)
        .assert()
        .success();
    assert_eq!(
        std::fs::read(sweep_out.join("tradeoff.svg")).unwrap(),
        std::fs::read(&drawn).unwrap()
    );
}
