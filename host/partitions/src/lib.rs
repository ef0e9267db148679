//! Tessera's partition domain: which partitions exist at a given time, how their keys map to
//! indices and time windows, sets of partitions, and how partitions of one asset depend on
//! partitions of another.
//!
//! The crate is pure: no I/O, no clocks. Everything that depends on the current time takes
//! `now` as a parameter (through [`Context`]), so the same inputs always give the same answer.
//!
//! Nothing here enumerates what it can compute: a time-window definition turns keys into
//! indices and windows with calendar arithmetic, and a [`PartitionSubset`] stores ranges of
//! indices, so ten million partitions cost a few bytes.
//!
//! ```
//! use tessera_partitions::{Context, PartitionsDefinition, TimeWindowPartitions};
//!
//! let daily = TimeWindowPartitions::daily("2024-01-01")
//!     .timezone("America/New_York")
//!     .build()?;
//! let def = PartitionsDefinition::from(daily);
//! let now = "2024-03-12T12:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap();
//! let ctx = Context::new(now);
//! assert_eq!(def.count(&ctx)?, 71);
//! // The spring-forward day is 23 hours long.
//! let w = def.time_window_for_key("2024-03-10")?;
//! assert_eq!(w.duration_secs(), 23 * 3600);
//! # Ok::<(), tessera_partitions::Error>(())
//! ```

mod civil;
pub mod cron;
mod definition;
mod dynamic;
mod error;
mod exclusions;
pub mod fmt;
mod key;
mod key_range;
mod mapping;
mod multi;
pub mod ranges;
mod schedule;
mod static_def;
mod subset;
mod time_window;

pub use definition::{Context, KeyIter, PartitionsDefinition};
pub use dynamic::{DynamicPartitions, DynamicPartitionsStore, MemoryDynamicStore};
pub use error::Error;
pub use key::{PartitionKey, TimeWindow};
pub use key_range::KeyRange;
pub use mapping::{
    DimensionMapping, ExternalMapping, PartitionMapping, PluginMapping, StaticMapping,
    TimeWindowMapping, UpstreamPartitions, infer_mapping,
};
pub use multi::{CombinationSource, Combinations, Dimension, MAX_DIMENSIONS, MultiPartitions};
pub use ranges::RangeSet;
pub use schedule::{Schedule, TickIter, Zone};
pub use static_def::StaticPartitions;
pub use subset::PartitionSubset;
pub use time_window::{Cadence, DateSpec, Keys, TimeWindowBuilder, TimeWindowPartitions};
