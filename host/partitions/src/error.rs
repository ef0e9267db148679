//! The crate's one error type. Messages name the definition (its [`Display`] form) and the key
//! involved, so a user reading a log line knows which asset's partitioning to look at.
//!
//! [`Display`]: std::fmt::Display

use crate::cron::CronError;
use crate::fmt::{FmtError, ParseError};

/// Everything that can go wrong when defining partitions, reading keys or mapping subsets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The cron expression of a time-window definition does not parse.
    #[error("invalid cron schedule {cron:?} for time-window partitions: {source}")]
    InvalidCron {
        /// The expression as given.
        cron: String,
        /// What is wrong with it.
        source: CronError,
    },
    /// The cron expression parses but no day ever matches it.
    #[error("cron schedule {cron:?} never fires")]
    CronNeverFires {
        /// The expression as given.
        cron: String,
    },
    /// Not an IANA time zone name known to the bundled tz database.
    #[error("unknown time zone {0:?}")]
    UnknownTimeZone(String),
    /// A key format uses a directive Tessera does not support.
    #[error("invalid partition key format {fmt:?}: {source}")]
    InvalidFormat {
        /// The format as given.
        fmt: String,
        /// What is wrong with it.
        source: FmtError,
    },
    /// A start or end date does not parse with the definition's format.
    #[error("{field} {value:?} of {def} does not parse: {source}")]
    InvalidDate {
        /// The definition being built.
        def: String,
        /// `"start"` or `"end"`.
        field: &'static str,
        /// The text given.
        value: String,
        /// Why it does not parse.
        source: ParseError,
    },
    /// A key does not parse as a time window of the definition.
    #[error("partition key {key:?} is not a time of {def}: {source}")]
    UnparsableKey {
        /// The definition asked.
        def: String,
        /// The key given.
        key: String,
        /// Why it does not parse.
        source: ParseError,
    },
    /// A key names no partition of the definition (as of the evaluation time).
    #[error("{def} has no partition {key:?}")]
    UnknownKey {
        /// The definition asked.
        def: String,
        /// The key given.
        key: String,
    },
    /// A static or multi definition lists the same key more than once.
    #[error("partition keys of {def} must be unique; duplicated: {keys:?}")]
    DuplicateKeys {
        /// The definition being built.
        def: String,
        /// Each duplicated key once, in first-seen order.
        keys: Vec<String>,
    },
    /// A key contains text reserved for key syntax (`...` for ranges, control characters,
    /// `|`/`[`/`]`/`,` inside multi-dimensional keys).
    #[error(
        "partition key {key:?} of {def} contains {found:?}, which partition keys may not contain"
    )]
    InvalidKeyText {
        /// The definition being built.
        def: String,
        /// The offending key.
        key: String,
        /// The forbidden text found in it.
        found: String,
    },
    /// Multi-dimensional definitions take 2 to 8 dimensions.
    #[error("a multi-partitions definition needs 2 to 8 dimensions, got {0}")]
    DimensionCount(usize),
    /// A dimension kind that cannot be part of a multi-dimensional definition.
    #[error("dimension {dimension:?} cannot be {kind} partitions")]
    InvalidDimension {
        /// The dimension's name.
        dimension: String,
        /// What was given.
        kind: String,
    },
    /// An input names a plugin mapping no loaded plugin exports.
    #[error("no loaded plugin exports the partition mapping {name:?}")]
    UnboundMapping {
        /// The mapping's name.
        name: String,
    },
    /// A plugin's mapping failed, or answered against the laws every mapping keeps.
    #[error("partition mapping {mapping:?} of plugin {plugin:?}: {reason}")]
    PluginMapping {
        /// The mapping's name.
        mapping: String,
        /// The plugin exporting it.
        plugin: String,
        /// What went wrong.
        reason: String,
    },
    /// The combinations of a sparse multi-dimensional definition cannot be used as given.
    #[error("combinations of {def}: {reason}")]
    InvalidCombinations {
        /// The definition being built.
        def: String,
        /// What is wrong with them.
        reason: String,
    },
    /// A dimension name that the multi-dimensional definition does not have.
    #[error("{def} has no dimension {dimension:?}")]
    UnknownDimension {
        /// The definition asked.
        def: String,
        /// The name given.
        dimension: String,
    },
    /// A multi-dimensional key with the wrong number of `|`-separated parts.
    #[error("partition key {key:?} of {def} must have one part per dimension, separated by '|'")]
    MalformedMultiKey {
        /// The definition asked.
        def: String,
        /// The key given.
        key: String,
    },
    /// A key range whose start lies before the definition's first partition.
    #[error("partition key range start {start:?} is before the start of {def} ({first})")]
    RangeStartBeforeFirst {
        /// The definition asked.
        def: String,
        /// The range's first key.
        start: String,
        /// The definition's first window start.
        first: String,
    },
    /// A key range whose end lies after the definition's end date.
    #[error("partition key range end {end:?} is after the end of {def} ({last})")]
    RangeEndAfterLast {
        /// The definition asked.
        def: String,
        /// The range's last key.
        end: String,
        /// The definition's end.
        last: String,
    },
    /// A key range whose start comes after its end.
    #[error("the range {range} is empty in {def}: {start:?} comes after {end:?}")]
    EmptyRange {
        /// The definition asked.
        def: String,
        /// The range as written.
        range: String,
        /// Its first key.
        start: String,
        /// Its last key.
        end: String,
    },
    /// A key range that reaches partitions that do not exist yet at the context's time.
    #[error(
        "the range {range} reaches {missing} partitions of {def} that do not exist yet as of {now}"
    )]
    RangeNotYet {
        /// The definition asked.
        def: String,
        /// The range as written.
        range: String,
        /// How many of its partitions do not exist yet.
        missing: u64,
        /// The context's time (RFC 3339).
        now: String,
    },
    /// Text that is not a key range `START...END`.
    #[error("{text:?} is not a key range: write START...END (both ends included)")]
    MalformedRange {
        /// The text given.
        text: String,
    },
    /// A dynamic definition was asked for keys without a store to read them from.
    #[error("dynamic partitions {name:?} need a dynamic-partitions store to list their keys")]
    NoDynamicStore {
        /// The dynamic definition's name.
        name: String,
    },
    /// The definition is well-formed but cannot work as intended (e.g. a key format too coarse
    /// to tell its windows apart).
    #[error("{def} is not valid: {reason}")]
    InvalidDefinition {
        /// The definition checked.
        def: String,
        /// Why it fails.
        reason: String,
    },
    /// A calendar exclusion is neither a date, a date-time nor a cron schedule.
    #[error("invalid exclusion {value:?}: {reason}")]
    InvalidExclusion {
        /// The exclusion as given.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// A mapping cannot relate these two definitions.
    #[error("{mapping} cannot map {upstream} to {downstream}: {reason}")]
    IncompatibleMapping {
        /// The mapping's description.
        mapping: String,
        /// The upstream definition.
        upstream: String,
        /// The downstream definition.
        downstream: String,
        /// Why not.
        reason: String,
    },
    /// A static mapping names upstream keys the upstream definition lacks.
    #[error("static mapping sources {keys:?} are not partitions of upstream {upstream}")]
    UnknownMappingSource {
        /// The upstream definition.
        upstream: String,
        /// The unknown keys, sorted.
        keys: Vec<String>,
    },
    /// A static mapping names downstream keys the downstream definition lacks.
    #[error("static mapping targets {keys:?} are not partitions of downstream {downstream}")]
    UnknownMappingTarget {
        /// The downstream definition.
        downstream: String,
        /// The unknown keys, sorted.
        keys: Vec<String>,
    },
    /// A range of more partitions than can be listed at once.
    #[error("{def} has {count} partitions in that selection; page through them instead")]
    TooMany {
        /// The definition asked.
        def: String,
        /// How many there are.
        count: u64,
    },
}
