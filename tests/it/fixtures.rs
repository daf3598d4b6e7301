//! Small scenarios for tests, written as TOML so they go through the loader,
//! and [`Disk`], the file system the library reads through in tests that
//! use the repository's files (the binary has its own, `src/cli/disk.rs`).

use std::path::{Path, PathBuf};

use canarysim::scenario::{self, Scenario};
use canarysim::vfs::MemFiles;

/// The binary's [`Files`] on `std::fs` (one source file, compiled into
/// the binary, the tests and the benches; the library itself does no I/O).
#[path = "../../src/cli/disk.rs"]
mod disk;
pub use disk::Disk;

/// A one-endpoint service. `extra` is appended verbatim (versions, policies).
pub fn scenario_text(replicas: u32, rate: f64, workers_per_cpu: f64, extra: &str) -> String {
    format!(
        r#"
schema = 1
name = "test"
[simulation]
warmup = "1m"
soak = "10m"
max_duration = "2h"
[rollout]
name = "svc"
replicas = {replicas}
[pod]
requests = {{ cpu = "1", memory = "512Mi" }}
limits = {{ cpu = "1", memory = "1Gi" }}
workers_per_cpu = {workers_per_cpu}
[[endpoints]]
name = "get"
handler = "/"
[traffic]
rate = {rate}
mix = {{ get = 1 }}
{extra}
"#
    )
}

/// The files below the directory `root` on disk, copied into memory below
/// `prefix` (`scenarios/a.toml` becomes `<prefix>/scenarios/a.toml`).
pub fn copy_to_memory(root: &str, prefix: &str) -> MemFiles {
    fn walk(dir: &Path, prefix: &Path, mem: &mut MemFiles) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, prefix, mem);
            } else {
                mem.insert(prefix.join(&p), std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    let mut mem = MemFiles::new();
    walk(Path::new(root), Path::new(prefix), &mut mem);
    mem
}

/// A one-endpoint service whose canary leaks `leak_per_minute` from a
/// 100Mi baseline (1Gi limit, 5 ms constant service time, `rate` requests
/// per second), held by one policy at `weight`% behind an endless pause.
pub fn leaking_canary(replicas: u32, rate: f64, leak_per_minute: &str, weight: u32) -> Scenario {
    load(&scenario_text(
        replicas,
        rate,
        4.0,
        &format!(
            r#"
[versions.stable]
memory = {{ baseline = "100Mi" }}
latency = {{ get = {{ dist = "constant", value = "5ms" }} }}
[versions.canary]
fault = "leaks {leak_per_minute} a minute"
memory = {{ leak_per_minute = "{leak_per_minute}" }}
[[policies]]
name = "hold"
steps = [ {{ setWeight = {weight} }}, {{ pause = {{}} }} ]
"#
        ),
    ))
}

/// Loads scenario text, panicking with the diagnostic if it is invalid.
pub fn load(text: &str) -> Scenario {
    match scenario::load_str("test.toml", text) {
        Ok(s) => s,
        Err(e) => panic!("{e}\n{text}"),
    }
}

/// The flagship scenario's text without its policies (the service, its
/// builds and its traffic), for tests that bring their own policies.
pub fn flagship_base() -> String {
    service_only(&std::fs::read_to_string("scenarios/checkout-leak.toml").unwrap())
}

/// A scenario's text up to its first `[[policies]]` table and the comment
/// block just above it.
pub fn service_only(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let first = lines
        .iter()
        .position(|l| l.trim() == "[[policies]]")
        .unwrap_or(lines.len());
    let mut end = first;
    while end > 0 && (lines[end - 1].starts_with('#') || lines[end - 1].trim().is_empty()) {
        end -= 1;
    }
    lines[..end].join("\n") + "\n"
}
