//! The simulation kernel: time, the event queue and random-number streams.
//!
//! Nothing here knows about pods or rollouts; the engine (`crate::engine`)
//! builds the world's event loop on these three parts.

pub mod queue;
pub mod rng;
pub mod time;

pub use queue::EventQueue;
pub use time::{SimDuration, SimTime};
