//! Asset checks a plugin exports (interface `checks`): evaluated per partition over the values
//! just materialized, in a fresh instance within the plugin's limits.

use chrono::{DateTime, Utc};

use crate::bindings::checks as wit;
use crate::bindings::types as wit_types;
use crate::call::MetadataValue;
use crate::error::CallError;
use crate::host::CallScope;
use crate::plugin::Plugin;

/// What a check found about one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckOutcome {
    Pass,
    Warn,
    Fail,
}

impl std::fmt::Display for CheckOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CheckOutcome::Pass => "pass",
            CheckOutcome::Warn => "warn",
            CheckOutcome::Fail => "fail",
        })
    }
}

/// One partition's result.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult {
    /// The partition key; empty for an unpartitioned asset.
    pub partition: String,
    pub outcome: CheckOutcome,
    pub description: Option<String>,
    pub metadata: Vec<(String, MetadataValue)>,
}

impl Plugin {
    /// Evaluates the check `check` over `values` (partition key, bytes), one result per key,
    /// in a fresh instance. The answer is checked: one result for each key given, no other.
    pub fn evaluate_check(
        &self,
        check: &str,
        values: &[(String, Vec<u8>)],
        now: DateTime<Utc>,
    ) -> Result<Vec<CheckResult>, CallError> {
        let spec = self
            .definitions()
            .checks
            .iter()
            .find(|c| c.name == check)
            .ok_or_else(|| CallError::InvalidResult {
                plugin: self.name().to_string(),
                message: format!("it exports no check {check:?}"),
            })?;
        let context = wit::CheckContext {
            check: spec.name.clone(),
            asset: spec.asset.clone(),
            now: now.timestamp(),
        };
        let partitions: Vec<wit_types::InputPartition> = values
            .iter()
            .map(|(key, data)| wit_types::InputPartition {
                key: key.clone(),
                data: data.clone(),
            })
            .collect();
        let scope = CallScope {
            asset: Some(spec.asset.clone()),
            ..CallScope::default()
        };
        let limits = self.limits(None);
        let result = self.call(scope, &limits, None, async |this, store, instance| {
            let func = this
                .exports()
                .evaluate_check(store, &instance)
                .ok_or_else(|| this.missing_export("evaluate-check"))?;
            let (result,) = func
                .call_async(&mut *store, (&context, partitions.as_slice()))
                .await
                .map_err(|e| this.trap(&e, &limits))?;
            Ok(result)
        })?;
        let results = result.map_err(|e| self.plugin_error(e))?;
        let invalid = |message: String| CallError::InvalidResult {
            plugin: self.name().to_string(),
            message,
        };
        let mut out = Vec::with_capacity(results.len());
        let mut seen = std::collections::HashSet::new();
        for r in results {
            if !values.iter().any(|(k, _)| *k == r.partition) {
                return Err(invalid(format!(
                    "check {check:?} answered for {:?}, which it was not given",
                    r.partition
                )));
            }
            if !seen.insert(r.partition.clone()) {
                return Err(invalid(format!(
                    "check {check:?} answered twice for {:?}",
                    r.partition
                )));
            }
            out.push(CheckResult {
                partition: r.partition,
                outcome: match r.outcome {
                    wit::CheckOutcome::Pass => CheckOutcome::Pass,
                    wit::CheckOutcome::Warn => CheckOutcome::Warn,
                    wit::CheckOutcome::Fail => CheckOutcome::Fail,
                },
                description: r.description,
                metadata: r
                    .metadata
                    .into_iter()
                    .map(|m| (m.key, MetadataValue::from(m.value)))
                    .collect(),
            });
        }
        if let Some((missing, _)) = values.iter().find(|(k, _)| !seen.contains(k)) {
            return Err(invalid(format!(
                "check {check:?} gave no result for {missing:?}"
            )));
        }
        Ok(out)
    }
}
