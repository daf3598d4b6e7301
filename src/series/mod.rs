//! The simulated Prometheus: label sets, the series store, and (from the
//! engine's side) the scraper that fills it.
//!
//! Flow: the engine's scraper writes samples here; `crate::promql` reads them.
//! Nothing here depends on either.

pub mod labels;
pub mod openmetrics;
pub mod store;
pub mod synthetic;

pub use labels::{Labels, METADATA_LABELS, METRIC_NAME};
pub use store::{Recorded, STALE_NAN, Sample, Series, SeriesId, SeriesStore, is_stale_nan};
