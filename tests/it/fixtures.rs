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
