//! Partition keys and time windows: the values that cross the crate boundary.

use std::borrow::Borrow;
use std::fmt;

use chrono::{DateTime, FixedOffset, TimeZone as _, Utc};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};

/// A partition key: `"2024-01-27"`, `"segment_a"`, `"us|2024-01-27"`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PartitionKey(CompactString);

impl PartitionKey {
    pub fn new(key: impl AsRef<str>) -> Self {
        PartitionKey(CompactString::new(key))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0.into_string()
    }
}

impl fmt::Display for PartitionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for PartitionKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for PartitionKey {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for PartitionKey {
    fn from(s: &str) -> Self {
        PartitionKey(CompactString::new(s))
    }
}

impl From<String> for PartitionKey {
    fn from(s: String) -> Self {
        PartitionKey(CompactString::from(s))
    }
}

impl PartialEq<str> for PartitionKey {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for PartitionKey {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// A half-open time window `[start, end)`, with the UTC offsets the definition's time zone has
/// at each end (a window across a DST change starts and ends at different offsets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TimeWindow {
    /// Unix seconds of the first instant in the window.
    pub start: i64,
    /// Unix seconds of the first instant after the window.
    pub end: i64,
    /// Seconds east of UTC at `start`.
    pub start_offset: i32,
    /// Seconds east of UTC at `end`.
    pub end_offset: i32,
}

impl TimeWindow {
    /// The start in the definition's local offset.
    pub fn start(&self) -> DateTime<FixedOffset> {
        local(self.start, self.start_offset)
    }

    /// The end in the definition's local offset.
    pub fn end(&self) -> DateTime<FixedOffset> {
        local(self.end, self.end_offset)
    }

    pub fn start_utc(&self) -> DateTime<Utc> {
        Utc.timestamp_opt(self.start, 0)
            .single()
            .unwrap_or_default()
    }

    pub fn end_utc(&self) -> DateTime<Utc> {
        Utc.timestamp_opt(self.end, 0).single().unwrap_or_default()
    }

    /// Length in seconds: 23 or 25 hours for a daily window across a DST change.
    pub fn duration_secs(&self) -> i64 {
        self.end - self.start
    }

    pub fn contains(&self, instant: i64) -> bool {
        self.start <= instant && instant < self.end
    }
}

impl fmt::Display for TimeWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}, {})",
            self.start().to_rfc3339(),
            self.end().to_rfc3339()
        )
    }
}

fn local(instant: i64, offset: i32) -> DateTime<FixedOffset> {
    let offset = FixedOffset::east_opt(offset).unwrap_or_else(|| chrono::Offset::fix(&Utc));
    offset
        .timestamp_opt(instant, 0)
        .single()
        .unwrap_or_default()
}
