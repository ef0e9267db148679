//! What a sensor receives and returns.

use crate::io::PartitionSelection;
use crate::time;

/// One evaluation of a sensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SensorContext {
    pub(crate) sensor: String,
    pub(crate) cursor: Option<String>,
    pub(crate) last_evaluation: Option<i64>,
    pub(crate) now: i64,
}

impl SensorContext {
    /// A context for calling a sensor function directly (the test harness builds its own).
    pub fn new(sensor: impl Into<String>, now: i64) -> Self {
        SensorContext {
            sensor: sensor.into(),
            cursor: None,
            last_evaluation: None,
            now,
        }
    }

    pub fn with_cursor(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }

    pub fn with_last_evaluation(mut self, at: i64) -> Self {
        self.last_evaluation = Some(at);
        self
    }

    pub fn sensor(&self) -> &str {
        &self.sensor
    }

    /// What the last evaluation returned as its cursor.
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }

    /// Unix seconds of the last evaluation.
    pub fn last_evaluation(&self) -> Option<i64> {
        self.last_evaluation
    }

    /// Unix seconds.
    pub fn now(&self) -> i64 {
        self.now
    }

    pub fn now_rfc3339(&self) -> String {
        time::rfc3339(self.now, 0)
    }
}

/// A request to run assets for a partition selection.
///
/// ```
/// use tessera_sdk::prelude::*;
///
/// let request = RunRequest::new()
///     .partition("2024-01-15")
///     .run_key("process_2024-01-15")
///     .tag("source", "sensor");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunRequest {
    /// Requests with a run key already launched are dropped by the host.
    pub run_key: Option<String>,
    /// Empty: every target of the sensor.
    pub assets: Vec<String>,
    pub partition: PartitionSelection,
    pub tags: Vec<(String, String)>,
}

impl RunRequest {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn run_key(mut self, key: impl Into<String>) -> Self {
        self.run_key = Some(key.into());
        self
    }

    pub fn asset(mut self, asset: impl Into<String>) -> Self {
        self.assets.push(asset.into());
        self
    }

    pub fn assets<I, K>(mut self, assets: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: Into<String>,
    {
        self.assets.extend(assets.into_iter().map(Into::into));
        self
    }

    pub fn partition(mut self, key: impl Into<String>) -> Self {
        self.partition = PartitionSelection::Key(key.into());
        self
    }

    /// Both ends included.
    pub fn partition_range(mut self, start: impl Into<String>, end: impl Into<String>) -> Self {
        self.partition = PartitionSelection::Range {
            start: start.into(),
            end: end.into(),
        };
        self
    }

    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push((key.into(), value.into()));
        self
    }
}

/// Keys to add to and delete from a dynamic partitions set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DynamicPartitionsRequest {
    pub name: String,
    pub add: Vec<String>,
    pub delete: Vec<String>,
}

/// What an evaluation returns.
///
/// ```
/// use tessera_sdk::prelude::*;
///
/// let result = SensorResult::new()
///     .add_dynamic_partitions("customers", ["acme"])
///     .run_request(RunRequest::new().partition("acme"))
///     .cursor("acme");
/// let skipped = SensorResult::skip("No new data found");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SensorResult {
    pub run_requests: Vec<RunRequest>,
    pub skip_reason: Option<String>,
    /// The cursor for the next evaluation; `None` keeps the current one.
    pub cursor: Option<String>,
    /// Applied by the host before the run requests are checked.
    pub dynamic_partitions: Vec<DynamicPartitionsRequest>,
}

impl SensorResult {
    pub fn new() -> Self {
        Self::default()
    }

    /// Nothing to do, and why.
    pub fn skip(reason: impl Into<String>) -> Self {
        SensorResult {
            skip_reason: Some(reason.into()),
            ..Self::default()
        }
    }

    pub fn run_request(mut self, request: RunRequest) -> Self {
        self.run_requests.push(request);
        self
    }

    pub fn run_requests(mut self, requests: impl IntoIterator<Item = RunRequest>) -> Self {
        self.run_requests.extend(requests);
        self
    }

    pub fn cursor(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }

    pub fn skip_reason(mut self, reason: impl Into<String>) -> Self {
        self.skip_reason = Some(reason.into());
        self
    }

    pub fn add_dynamic_partitions<I, K>(self, name: &str, keys: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: Into<String>,
    {
        self.dynamic(name, keys.into_iter().map(Into::into).collect(), Vec::new())
    }

    pub fn delete_dynamic_partitions<I, K>(self, name: &str, keys: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: Into<String>,
    {
        self.dynamic(name, Vec::new(), keys.into_iter().map(Into::into).collect())
    }

    fn dynamic(mut self, name: &str, add: Vec<String>, delete: Vec<String>) -> Self {
        match self.dynamic_partitions.iter_mut().find(|r| r.name == name) {
            Some(r) => {
                r.add.extend(add);
                r.delete.extend(delete);
            }
            None => self.dynamic_partitions.push(DynamicPartitionsRequest {
                name: name.to_string(),
                add,
                delete,
            }),
        }
        self
    }
}
