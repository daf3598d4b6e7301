//! Small scenarios for tests, written as TOML so they go through the loader.

use canarysim::scenario::{self, Scenario};

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
