//! Partitions definitions and partition mappings, in Rust terms. They mirror the WIT types one
//! to one; the host turns them into its partition model.

/// Hourly, daily, weekly or monthly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cadence {
    Hourly,
    Daily,
    Weekly,
    Monthly,
}

/// Partitions of a plain cadence with Dagster's defaults: keys `%Y-%m-%d` (`%Y-%m-%d-%H:%M`
/// hourly), UTC, weeks from Sunday, months from the 1st. Made by [`Partitions::daily`] and
/// friends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CadencePartitions {
    pub cadence: Cadence,
    /// Written in `fmt`.
    pub start: String,
    /// Exclusive.
    pub end: Option<String>,
    /// IANA name; UTC when absent.
    pub timezone: Option<String>,
    /// Python `strftime` format of the keys.
    pub fmt: Option<String>,
    pub end_offset: i64,
    pub minute_offset: u32,
    pub hour_offset: u32,
    /// Weekly: 0 = Sunday … 6 = Saturday. Monthly: day of the month.
    pub day_offset: Option<u32>,
    /// Ticks that are not partitions; see [`CadencePartitions::exclude`].
    pub exclusions: Vec<String>,
}

impl CadencePartitions {
    pub fn new(cadence: Cadence, start: impl Into<String>) -> Self {
        CadencePartitions {
            cadence,
            start: start.into(),
            end: None,
            timezone: None,
            fmt: None,
            end_offset: 0,
            minute_offset: 0,
            hour_offset: 0,
            day_offset: None,
            exclusions: Vec::new(),
        }
    }

    /// Ticks that are not partitions (a business calendar): `"2024-12-25"` excludes every
    /// tick on that local day, `"2024-12-24T13:00"` the tick at that wall time, a cron
    /// schedule every tick that is also its tick (`"* * * * 6,0"`: weekends). An excluded
    /// window is no partition; indices, counts and mappings count the others.
    pub fn exclude<I, S>(mut self, exclusions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.exclusions
            .extend(exclusions.into_iter().map(Into::into));
        self
    }

    /// Windows that would end after `end` do not exist.
    pub fn end(mut self, end: impl Into<String>) -> Self {
        self.end = Some(end.into());
        self
    }

    /// An IANA time zone name: `"America/New_York"`.
    pub fn timezone(mut self, timezone: impl Into<String>) -> Self {
        self.timezone = Some(timezone.into());
        self
    }

    /// Python `strftime` format of the keys (and of `start` and `end`).
    pub fn fmt(mut self, fmt: impl Into<String>) -> Self {
        self.fmt = Some(fmt.into());
        self
    }

    /// `1` adds the window in progress; a negative offset holds back complete windows.
    pub fn end_offset(mut self, offset: i64) -> Self {
        self.end_offset = offset;
        self
    }

    pub fn minute_offset(mut self, minute: u32) -> Self {
        self.minute_offset = minute;
        self
    }

    pub fn hour_offset(mut self, hour: u32) -> Self {
        self.hour_offset = hour;
        self
    }

    /// Weekly: 0 = Sunday … 6 = Saturday. Monthly: day of the month.
    pub fn day_offset(mut self, day: u32) -> Self {
        self.day_offset = Some(day);
        self
    }
}

/// Windows between the ticks of any 5-field cron schedule. Made by [`Partitions::cron`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronPartitions {
    pub cron_schedule: String,
    pub start: String,
    pub end: Option<String>,
    pub timezone: Option<String>,
    pub fmt: String,
    pub end_offset: i64,
    /// Ticks that are not partitions; see [`CadencePartitions::exclude`].
    pub exclusions: Vec<String>,
}

impl CronPartitions {
    pub fn new(
        cron_schedule: impl Into<String>,
        start: impl Into<String>,
        fmt: impl Into<String>,
    ) -> Self {
        CronPartitions {
            cron_schedule: cron_schedule.into(),
            start: start.into(),
            end: None,
            timezone: None,
            fmt: fmt.into(),
            end_offset: 0,
            exclusions: Vec::new(),
        }
    }

    /// Ticks that are not partitions; see [`CadencePartitions::exclude`].
    pub fn exclude<I, S>(mut self, exclusions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.exclusions
            .extend(exclusions.into_iter().map(Into::into));
        self
    }

    pub fn end(mut self, end: impl Into<String>) -> Self {
        self.end = Some(end.into());
        self
    }

    pub fn timezone(mut self, timezone: impl Into<String>) -> Self {
        self.timezone = Some(timezone.into());
        self
    }

    pub fn end_offset(mut self, offset: i64) -> Self {
        self.end_offset = offset;
        self
    }
}

/// One-dimensional partitions: an asset's partitions, or one dimension of multi partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DimensionPartitions {
    /// Fixed keys, in this order.
    Static(Vec<String>),
    Cadence(CadencePartitions),
    Cron(CronPartitions),
    /// Keys added and removed at run time; the name of the set.
    Dynamic(String),
}

impl DimensionPartitions {
    pub fn static_keys<I, K>(keys: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: Into<String>,
    {
        DimensionPartitions::Static(keys.into_iter().map(Into::into).collect())
    }

    pub fn dynamic(name: impl Into<String>) -> Self {
        DimensionPartitions::Dynamic(name.into())
    }
}

impl From<CadencePartitions> for DimensionPartitions {
    fn from(p: CadencePartitions) -> Self {
        DimensionPartitions::Cadence(p)
    }
}

impl From<CronPartitions> for DimensionPartitions {
    fn from(p: CronPartitions) -> Self {
        DimensionPartitions::Cron(p)
    }
}

/// A named dimension of multi partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dimension {
    pub name: String,
    pub partitions: DimensionPartitions,
}

impl Dimension {
    pub fn new(name: impl Into<String>, partitions: impl Into<DimensionPartitions>) -> Self {
        Dimension {
            name: name.into(),
            partitions: partitions.into(),
        }
    }
}

/// Which combinations of a sparse definition's combined dimensions exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Combinations {
    /// Fixed combinations of static dimensions: the dimensions' names, then one key per
    /// dimension for each combination, in that order.
    Listed {
        dimensions: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    /// A dynamic partitions set whose keys are combinations: the keys of `dimensions` joined
    /// with `|` in dimension-name order (`acme|emea`).
    Dynamic {
        dimensions: Vec<String>,
        set: String,
    },
}

impl Combinations {
    /// Fixed combinations: `Combinations::listed(["customer", "region"], [["acme", "eu"]])`.
    pub fn listed<D, S, R, Row, K>(dimensions: D, rows: R) -> Self
    where
        D: IntoIterator<Item = S>,
        S: Into<String>,
        R: IntoIterator<Item = Row>,
        Row: IntoIterator<Item = K>,
        K: Into<String>,
    {
        Combinations::Listed {
            dimensions: dimensions.into_iter().map(Into::into).collect(),
            rows: rows
                .into_iter()
                .map(|r| r.into_iter().map(Into::into).collect())
                .collect(),
        }
    }

    /// The keys of dimension `dependent` that go with each key of dimension `on` (each
    /// customer's regions): `Combinations::per_key("customer", "region", [("acme", ["eu"])])`.
    pub fn per_key<I, K, V, VI>(on: impl Into<String>, dependent: impl Into<String>, map: I) -> Self
    where
        I: IntoIterator<Item = (K, VI)>,
        K: Into<String>,
        VI: IntoIterator<Item = V>,
        V: Into<String>,
    {
        let mut rows = Vec::new();
        for (key, values) in map {
            let key: String = key.into();
            rows.extend(values.into_iter().map(|v| vec![key.clone(), v.into()]));
        }
        Combinations::Listed {
            dimensions: vec![on.into(), dependent.into()],
            rows,
        }
    }

    /// Combinations held in a dynamic partitions set (added by sensors, the CLI or the API).
    pub fn dynamic<D, S>(dimensions: D, set: impl Into<String>) -> Self
    where
        D: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Combinations::Dynamic {
            dimensions: dimensions.into_iter().map(Into::into).collect(),
            set: set.into(),
        }
    }
}

/// Which partitions an asset has.
///
/// ```
/// use tessera_sdk::prelude::*;
///
/// let daily: Partitions = Partitions::daily("2024-01-01").timezone("America/New_York").into();
/// let every_4h: Partitions = Partitions::cron("0 */4 * * *", "2024-01-01-00:00", "%Y-%m-%d-%H:%M").into();
/// let regions = Partitions::static_keys(["us", "eu"]);
/// let customers = Partitions::dynamic("customers");
/// let grid = Partitions::multi([
///     Dimension::new("date", Partitions::daily("2024-01-01")),
///     Dimension::new("region", DimensionPartitions::static_keys(["us", "eu"])),
/// ]);
/// // Only each customer's regions, every day.
/// let sparse = Partitions::sparse(
///     [
///         Dimension::new("date", Partitions::daily("2024-01-01")),
///         Dimension::new("customer", DimensionPartitions::static_keys(["acme", "bolt"])),
///         Dimension::new("region", DimensionPartitions::static_keys(["us", "eu"])),
///     ],
///     Combinations::per_key("customer", "region", [("acme", vec!["us", "eu"]), ("bolt", vec!["eu"])]),
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Partitions {
    Static(Vec<String>),
    Cadence(CadencePartitions),
    Cron(CronPartitions),
    Dynamic(String),
    /// The product of 2 to 8 named dimensions; keys join the dimension keys with `|`
    /// in dimension-name order.
    Multi(Vec<Dimension>),
    /// Multi partitions of only the declared combinations of some dimensions; the others are
    /// full. Listed with the full dimensions outermost.
    Sparse {
        dimensions: Vec<Dimension>,
        combinations: Combinations,
    },
}

impl Partitions {
    pub fn hourly(start: impl Into<String>) -> CadencePartitions {
        CadencePartitions::new(Cadence::Hourly, start)
    }

    pub fn daily(start: impl Into<String>) -> CadencePartitions {
        CadencePartitions::new(Cadence::Daily, start)
    }

    pub fn weekly(start: impl Into<String>) -> CadencePartitions {
        CadencePartitions::new(Cadence::Weekly, start)
    }

    pub fn monthly(start: impl Into<String>) -> CadencePartitions {
        CadencePartitions::new(Cadence::Monthly, start)
    }

    /// Windows between the ticks of `cron_schedule`, keyed in `fmt`.
    pub fn cron(
        cron_schedule: impl Into<String>,
        start: impl Into<String>,
        fmt: impl Into<String>,
    ) -> CronPartitions {
        CronPartitions::new(cron_schedule, start, fmt)
    }

    pub fn static_keys<I, K>(keys: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: Into<String>,
    {
        Partitions::Static(keys.into_iter().map(Into::into).collect())
    }

    pub fn dynamic(name: impl Into<String>) -> Self {
        Partitions::Dynamic(name.into())
    }

    pub fn multi(dimensions: impl IntoIterator<Item = Dimension>) -> Self {
        Partitions::Multi(dimensions.into_iter().collect())
    }

    /// Only `combinations` of some of `dimensions` (see [`Combinations`]).
    pub fn sparse(
        dimensions: impl IntoIterator<Item = Dimension>,
        combinations: Combinations,
    ) -> Self {
        Partitions::Sparse {
            dimensions: dimensions.into_iter().collect(),
            combinations,
        }
    }

    /// The dimensions of a multi or sparse definition; empty otherwise.
    pub(crate) fn dimensions(&self) -> &[Dimension] {
        match self {
            Partitions::Multi(dims)
            | Partitions::Sparse {
                dimensions: dims, ..
            } => dims,
            _ => &[],
        }
    }

    /// Dimension names sorted as in keys; empty unless multi.
    pub(crate) fn dimension_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.dimensions().iter().map(|d| d.name.clone()).collect();
        names.sort();
        names
    }

    #[cfg(not(target_family = "wasm"))]
    pub(crate) fn has_time(&self) -> bool {
        match self {
            Partitions::Cadence(_) | Partitions::Cron(_) => true,
            Partitions::Static(_) | Partitions::Dynamic(_) => false,
            Partitions::Multi(_) | Partitions::Sparse { .. } => self.dimensions().iter().any(|d| {
                matches!(
                    d.partitions,
                    DimensionPartitions::Cadence(_) | DimensionPartitions::Cron(_)
                )
            }),
        }
    }
}

impl From<CadencePartitions> for Partitions {
    fn from(p: CadencePartitions) -> Self {
        Partitions::Cadence(p)
    }
}

impl From<CronPartitions> for Partitions {
    fn from(p: CronPartitions) -> Self {
        Partitions::Cron(p)
    }
}

impl From<DimensionPartitions> for Partitions {
    fn from(p: DimensionPartitions) -> Self {
        match p {
            DimensionPartitions::Static(keys) => Partitions::Static(keys),
            DimensionPartitions::Cadence(p) => Partitions::Cadence(p),
            DimensionPartitions::Cron(p) => Partitions::Cron(p),
            DimensionPartitions::Dynamic(name) => Partitions::Dynamic(name),
        }
    }
}

/// Overlapping time windows, widened by offsets counted in downstream partitions:
/// `Mapping::time_window(-1, 0)` needs today's and yesterday's windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeWindowMapping {
    pub start_offset: i64,
    pub end_offset: i64,
    pub allow_nonexistent_upstream_partitions: bool,
}

impl TimeWindowMapping {
    /// Run even when some of the windows do not exist upstream (before its start, say).
    pub fn allow_nonexistent_upstream_partitions(mut self, allow: bool) -> Self {
        self.allow_nonexistent_upstream_partitions = allow;
        self
    }
}

/// A mapping between two one-dimensional definitions (one dimension of a [`Mapping::multi`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DimensionMappingKind {
    Identity,
    All,
    Last,
    Specific(Vec<String>),
    /// Upstream key → the downstream keys that depend on it.
    StaticMap(Vec<(String, Vec<String>)>),
    TimeWindow(TimeWindowMapping),
}

impl From<TimeWindowMapping> for DimensionMappingKind {
    fn from(m: TimeWindowMapping) -> Self {
        DimensionMappingKind::TimeWindow(m)
    }
}

/// Maps one dimension of a multi-partitioned upstream to one of the downstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DimensionMapping {
    pub upstream_dimension: String,
    pub downstream_dimension: String,
    pub mapping: DimensionMappingKind,
}

impl DimensionMapping {
    pub fn new(
        upstream_dimension: impl Into<String>,
        downstream_dimension: impl Into<String>,
        mapping: impl Into<DimensionMappingKind>,
    ) -> Self {
        DimensionMapping {
            upstream_dimension: upstream_dimension.into(),
            downstream_dimension: downstream_dimension.into(),
            mapping: mapping.into(),
        }
    }
}

/// How the partitions of a downstream asset depend on those of an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapping {
    /// The same key.
    Identity,
    /// Every upstream partition.
    All,
    /// The newest upstream partition.
    Last,
    /// These upstream keys.
    Specific(Vec<String>),
    /// Upstream key → the downstream keys that depend on it.
    StaticMap(Vec<(String, Vec<String>)>),
    TimeWindow(TimeWindowMapping),
    /// One side is multi-dimensional, the other matches one of its dimensions (named, or
    /// inferred when `None`).
    MultiToSingle(Option<String>),
    /// Per-dimension mappings between two multi-dimensional definitions; dimensions not
    /// listed depend on every partition.
    Multi(Vec<DimensionMapping>),
    /// A mapping some loaded plugin exports (a [`Mapper`](crate::Mapper)), by name.
    Plugin(String),
}

impl Mapping {
    /// The partition mapping a plugin exports under `name` (this plugin or another).
    pub fn plugin(name: impl Into<String>) -> Self {
        Mapping::Plugin(name.into())
    }

    pub fn identity() -> Self {
        Mapping::Identity
    }

    pub fn all() -> Self {
        Mapping::All
    }

    pub fn last() -> Self {
        Mapping::Last
    }

    pub fn specific<I, K>(keys: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: Into<String>,
    {
        Mapping::Specific(keys.into_iter().map(Into::into).collect())
    }

    /// `[(upstream, [downstream, …]), …]`.
    pub fn static_map<I, U, D, K>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (U, D)>,
        U: Into<String>,
        D: IntoIterator<Item = K>,
        K: Into<String>,
    {
        Mapping::StaticMap(
            pairs
                .into_iter()
                .map(|(u, d)| (u.into(), d.into_iter().map(Into::into).collect()))
                .collect(),
        )
    }

    /// Windows from `start_offset` to `end_offset` partitions around the downstream one.
    pub fn time_window(start_offset: i64, end_offset: i64) -> TimeWindowMapping {
        TimeWindowMapping {
            start_offset,
            end_offset,
            allow_nonexistent_upstream_partitions: false,
        }
    }

    /// One dimension of a multi definition, inferred.
    pub fn multi_to_single() -> Self {
        Mapping::MultiToSingle(None)
    }

    /// One dimension of a multi definition, named.
    pub fn multi_to_single_dimension(dimension: impl Into<String>) -> Self {
        Mapping::MultiToSingle(Some(dimension.into()))
    }

    pub fn multi(dimensions: impl IntoIterator<Item = DimensionMapping>) -> Self {
        Mapping::Multi(dimensions.into_iter().collect())
    }
}

impl From<TimeWindowMapping> for Mapping {
    fn from(m: TimeWindowMapping) -> Self {
        Mapping::TimeWindow(m)
    }
}

impl From<DimensionMappingKind> for Mapping {
    fn from(m: DimensionMappingKind) -> Self {
        match m {
            DimensionMappingKind::Identity => Mapping::Identity,
            DimensionMappingKind::All => Mapping::All,
            DimensionMappingKind::Last => Mapping::Last,
            DimensionMappingKind::Specific(keys) => Mapping::Specific(keys),
            DimensionMappingKind::StaticMap(pairs) => Mapping::StaticMap(pairs),
            DimensionMappingKind::TimeWindow(m) => Mapping::TimeWindow(m),
        }
    }
}

/// An upstream asset a computation reads.
///
/// ```
/// use tessera_sdk::prelude::*;
///
/// let input = AssetInput::new("raw_events").mapping(Mapping::time_window(-1, 0));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetInput {
    pub asset: String,
    /// `None`: inferred as Dagster does.
    pub mapping: Option<Mapping>,
    /// Run even when some mapped upstream partitions are missing.
    pub allow_missing: bool,
    /// When a downstream window runs while some of its upstream partitions are missing.
    pub rollup: Option<Rollup>,
}

/// When a downstream window (a week, a month, a fiscal month) runs while some of the upstream
/// partitions it maps to are missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rollup {
    /// Only when every one is materialized (the default).
    WaitAll,
    /// When every one is materialized, or this many seconds after the window's end, with
    /// what exists then.
    WaitUntil(u64),
    /// With what exists.
    RunPartial,
}

impl AssetInput {
    pub fn new(asset: impl Into<String>) -> Self {
        AssetInput {
            asset: asset.into(),
            mapping: None,
            allow_missing: false,
            rollup: None,
        }
    }

    /// The roll-up policy: `AssetInput::new("trading_sales").rollup(Rollup::WaitUntil(86_400))`
    /// runs a week with the days that exist a day after it ended.
    pub fn rollup(mut self, rollup: Rollup) -> Self {
        self.rollup = Some(rollup);
        self
    }

    pub fn mapping(mut self, mapping: impl Into<Mapping>) -> Self {
        self.mapping = Some(mapping.into());
        self
    }

    pub fn allow_missing(mut self) -> Self {
        self.allow_missing = true;
        self
    }
}

impl From<&str> for AssetInput {
    fn from(asset: &str) -> Self {
        AssetInput::new(asset)
    }
}

impl From<String> for AssetInput {
    fn from(asset: String) -> Self {
        AssetInput::new(asset)
    }
}
