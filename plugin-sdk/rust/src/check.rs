//! Asset checks a plugin exports: evaluated by the host per partition after a
//! materialization, over the values just written.
//!
//! ```
//! use tessera_sdk::prelude::*;
//!
//! /// Every day must have sold something.
//! fn positive(_: &CheckContext, values: &[(String, Vec<u8>)]) -> Result<Vec<CheckResult>, PluginError> {
//!     Ok(values
//!         .iter()
//!         .map(|(key, data)| {
//!             if data.is_empty() {
//!                 CheckResult::fail(key, "no value")
//!             } else {
//!                 CheckResult::pass(key)
//!             }
//!         })
//!         .collect())
//! }
//! let check = Check::new("positive_sales", "daily_sales", positive).blocking();
//! assert!(check.is_blocking());
//! ```

use crate::PluginError;
use crate::io::MetadataValue;

/// What the host says about one evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckContext {
    pub check: String,
    pub asset: String,
    /// Unix seconds.
    pub now: i64,
}

/// Pass, warn or fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckOutcome {
    Pass,
    Warn,
    Fail,
}

/// One partition's result.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult {
    pub partition: String,
    pub outcome: CheckOutcome,
    pub description: Option<String>,
    pub metadata: Vec<(String, MetadataValue)>,
}

impl CheckResult {
    pub fn pass(partition: impl Into<String>) -> Self {
        CheckResult {
            partition: partition.into(),
            outcome: CheckOutcome::Pass,
            description: None,
            metadata: Vec::new(),
        }
    }

    pub fn warn(partition: impl Into<String>, description: impl Into<String>) -> Self {
        CheckResult {
            outcome: CheckOutcome::Warn,
            description: Some(description.into()),
            ..CheckResult::pass(partition)
        }
    }

    pub fn fail(partition: impl Into<String>, description: impl Into<String>) -> Self {
        CheckResult {
            outcome: CheckOutcome::Fail,
            description: Some(description.into()),
            ..CheckResult::pass(partition)
        }
    }

    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<MetadataValue>) -> Self {
        self.metadata.push((key.into(), value.into()));
        self
    }
}

/// Evaluates a check over (partition key, value) pairs: one result per key.
pub type CheckFn = fn(&CheckContext, &[(String, Vec<u8>)]) -> Result<Vec<CheckResult>, PluginError>;

/// A check on one of the plugin's assets.
#[derive(Debug, Clone)]
pub struct Check {
    pub(crate) name: String,
    pub(crate) asset: String,
    pub(crate) description: Option<String>,
    pub(crate) blocking: bool,
    pub(crate) evaluate: CheckFn,
}

impl Check {
    pub fn new(name: impl Into<String>, asset: impl Into<String>, evaluate: CheckFn) -> Self {
        Check {
            name: name.into(),
            asset: asset.into(),
            description: None,
            blocking: false,
            evaluate,
        }
    }

    /// A partition failing it stops the downstream partitions that read it from running.
    pub fn blocking(mut self) -> Self {
        self.blocking = true;
        self
    }

    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn is_blocking(&self) -> bool {
        self.blocking
    }

    /// Evaluates it in-process (what the host's call runs; for tests).
    pub fn evaluate(
        &self,
        context: &CheckContext,
        values: &[(String, Vec<u8>)],
    ) -> Result<Vec<CheckResult>, PluginError> {
        (self.evaluate)(context, values)
    }
}
