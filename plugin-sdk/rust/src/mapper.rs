//! Partition mappings a plugin exports ("the fiscal month of a day", "the last complete week
//! of the month"): code the host calls in the plugin's sandbox with runs of keys, never key by
//! key, and whose answers it checks and caches. Inputs of any plugin name them with
//! [`Mapping::plugin`](crate::Mapping::plugin).
//!
//! ```
//! use tessera_sdk::prelude::*;
//!
//! /// Every day of a month: the month's days upstream, the days' months downstream.
//! fn days_of_months(r: &MapRequest) -> Result<Vec<(String, String)>, PluginError> {
//!     Ok(r.ranges.iter().map(|(first, last)| (format!("{first}-01"), format!("{last}-28"))).collect())
//! }
//! fn months_of_days(r: &MapRequest) -> Result<Vec<(String, String)>, PluginError> {
//!     Ok(r.ranges.iter().map(|(first, last)| (first[..7].to_string(), last[..7].to_string())).collect())
//! }
//! let m = Mapper::new("month_of_day", days_of_months, months_of_days)
//!     .description("Days to the month they fall in");
//! assert_eq!(m.name(), "month_of_day");
//! ```

use crate::PluginError;

/// Which way the host asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From downstream partitions to the upstream partitions they read.
    ToUpstream,
    /// From upstream partitions to the downstream partitions that read them.
    ToDownstream,
}

/// One question: runs of keys (first and last, inclusive, in key order) of the side mapped
/// from, for one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapRequest {
    pub mapping: String,
    pub direction: Direction,
    pub upstream_asset: String,
    pub downstream_asset: String,
    pub ranges: Vec<(String, String)>,
}

/// Maps runs of keys to runs of keys of the other side.
pub type MapFn = fn(&MapRequest) -> Result<Vec<(String, String)>, PluginError>;

/// A partition mapping this plugin exports: one function per direction. The host refuses a
/// mapping whose answers name keys the other side does not have, or do not map back onto
/// what was asked.
#[derive(Debug, Clone)]
pub struct Mapper {
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) to_upstream: MapFn,
    pub(crate) to_downstream: MapFn,
}

impl Mapper {
    pub fn new(name: impl Into<String>, to_upstream: MapFn, to_downstream: MapFn) -> Self {
        Mapper {
            name: name.into(),
            description: None,
            to_upstream,
            to_downstream,
        }
    }

    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Answers a request in-process (what the host's call runs; for tests).
    pub fn map(&self, request: &MapRequest) -> Result<Vec<(String, String)>, PluginError> {
        match request.direction {
            Direction::ToUpstream => (self.to_upstream)(request),
            Direction::ToDownstream => (self.to_downstream)(request),
        }
    }
}
