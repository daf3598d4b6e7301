//! The service being rolled out: version profiles and pods.
//!
//! Flow: the scenario loader builds [`VersionProfile`]s; the engine creates
//! [`Pod`]s from them and drives their lifecycle; the scraper reads pod state.
//! Nothing here schedules events or knows about traffic routing.

pub mod histogram;
pub mod pod;
pub mod profile;
pub mod queueing;

pub use pod::{Pod, PodId, PodPhase, Waiting};
pub use profile::{LatencyDist, MemoryProfile, PressureProfile, Version, VersionProfile};
