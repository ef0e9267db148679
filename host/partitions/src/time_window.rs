//! Time-window partitions: one partition per cron tick, keyed by the tick formatted with `fmt`.
//!
//! Partition `i` is the window `[tick_i, tick_{i+1})`, where `tick_0` is the first tick at or
//! after `start`. Indices are signed and anchored at that first window, so they do not move as
//! time passes; negative indices and indices past the last partition name windows that do not
//! exist (yet), which is how mappings report "required but nonexistent" partitions.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::civil::{self, SECS_PER_DAY};
use crate::cron::Cron;
use crate::error::Error;
use crate::exclusions::{Base, Exclusions, Table};
use crate::fmt::{Civil, Fmt, ParseError, Resolution, Template};
use crate::key::{PartitionKey, TimeWindow};
use crate::schedule::{Schedule, Span, TickIter, Zone};

/// The cadence Dagster's `schedule_type` names, when the cron is one of the four plain forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cadence {
    Hourly,
    Daily,
    Weekly,
    Monthly,
}

/// A date given to a time-window builder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateSpec {
    /// Text parsed with the definition's `fmt` in its time zone (Dagster's string dates).
    Text(String),
    /// A wall-clock time in the definition's time zone (Dagster's naive `datetime`).
    Local(Civil),
    /// An exact instant.
    Instant(DateTime<Utc>),
}

impl From<&str> for DateSpec {
    fn from(s: &str) -> Self {
        DateSpec::Text(s.to_string())
    }
}

impl From<String> for DateSpec {
    fn from(s: String) -> Self {
        DateSpec::Text(s)
    }
}

impl From<DateTime<Utc>> for DateSpec {
    fn from(t: DateTime<Utc>) -> Self {
        DateSpec::Instant(t)
    }
}

impl From<Civil> for DateSpec {
    fn from(c: Civil) -> Self {
        DateSpec::Local(c)
    }
}

/// Builds a [`TimeWindowPartitions`]; see [`TimeWindowPartitions::daily`] and friends.
#[derive(Debug, Clone)]
pub struct TimeWindowBuilder {
    kind: BuilderKind,
    start: DateSpec,
    end: Option<DateSpec>,
    timezone: String,
    fmt: Option<String>,
    end_offset: i64,
    minute_offset: u32,
    hour_offset: u32,
    day_offset: Option<u32>,
    exclusions: Vec<String>,
}

#[derive(Debug, Clone)]
enum BuilderKind {
    Cadence(Cadence),
    Cron(String),
}

impl TimeWindowBuilder {
    fn new(kind: BuilderKind, start: DateSpec) -> Self {
        TimeWindowBuilder {
            kind,
            start,
            end: None,
            timezone: "UTC".to_string(),
            fmt: None,
            end_offset: 0,
            minute_offset: 0,
            hour_offset: 0,
            day_offset: None,
            exclusions: Vec::new(),
        }
    }

    /// Ticks that are not partitions: `YYYY-MM-DD` (every tick on that local day),
    /// `YYYY-MM-DDTHH:MM[:SS]` (the tick at that wall time, as Dagster's datetimes) or a cron
    /// schedule (every tick that is also its tick: `* * * * 6,0` for weekends).
    pub fn exclude<I, S>(mut self, items: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.exclusions.extend(items.into_iter().map(Into::into));
        self
    }

    /// Exclusive end: windows that would end after it do not exist.
    pub fn end(mut self, end: impl Into<DateSpec>) -> Self {
        self.end = Some(end.into());
        self
    }

    pub fn timezone(mut self, tz: &str) -> Self {
        self.timezone = tz.to_string();
        self
    }

    /// Python `strftime` format of the keys.
    pub fn fmt(mut self, fmt: &str) -> Self {
        self.fmt = Some(fmt.to_string());
        self
    }

    /// `k > 0` adds `k` partitions past the last complete window; `k < 0` drops `|k|`.
    pub fn end_offset(mut self, k: i64) -> Self {
        self.end_offset = k;
        self
    }

    pub fn minute_offset(mut self, m: u32) -> Self {
        self.minute_offset = m;
        self
    }

    pub fn hour_offset(mut self, h: u32) -> Self {
        self.hour_offset = h;
        self
    }

    /// Weekly: 0 = Sunday … 6 = Saturday. Monthly: day of the month (0 means 1, as in Dagster).
    pub fn day_offset(mut self, d: u32) -> Self {
        self.day_offset = Some(d);
        self
    }

    pub fn build(self) -> Result<TimeWindowPartitions, Error> {
        let (cron_text, default_fmt) = match &self.kind {
            BuilderKind::Cron(c) => (c.clone(), None),
            BuilderKind::Cadence(cadence) => {
                let (m, h) = (self.minute_offset, self.hour_offset);
                match cadence {
                    Cadence::Hourly => (format!("{m} * * * *"), Some("%Y-%m-%d-%H:%M")),
                    Cadence::Daily => (format!("{m} {h} * * *"), Some("%Y-%m-%d")),
                    Cadence::Weekly => {
                        let d = self.day_offset.unwrap_or(0);
                        (format!("{m} {h} * * {d}"), Some("%Y-%m-%d"))
                    }
                    Cadence::Monthly => {
                        // Dagster tests `day_offset or 1`: zero silently means the 1st.
                        let d = self.day_offset.filter(|&d| d != 0).unwrap_or(1);
                        (format!("{m} {h} {d} * *"), Some("%Y-%m-%d"))
                    }
                }
            }
        };
        let fmt_text = match (&self.fmt, default_fmt) {
            (Some(f), _) => f.clone(),
            (None, Some(f)) => f.to_string(),
            (None, None) => "%Y-%m-%d".to_string(),
        };
        let cron = Cron::parse(&cron_text).map_err(|source| Error::InvalidCron {
            cron: cron_text.clone(),
            source,
        })?;
        let zone = Zone::new(&self.timezone)?;
        let fmt = Fmt::parse(&fmt_text).map_err(|source| Error::InvalidFormat {
            fmt: fmt_text.clone(),
            source,
        })?;
        let schedule = Schedule::new(cron, zone)?;
        let describe = || {
            format!(
                "time-window partitions {:?} in {}",
                cron_text, self.timezone
            )
        };
        let resolve = |spec: &DateSpec, field: &'static str| -> Result<i64, Error> {
            match spec {
                DateSpec::Instant(t) => Ok(t.timestamp()),
                DateSpec::Local(c) => {
                    Ok(schedule.zone().resolve_earlier(civil::naive_from_civil(c)))
                }
                DateSpec::Text(text) => {
                    parse_instant(&fmt, schedule.zone(), text).map_err(|source| {
                        Error::InvalidDate {
                            def: describe(),
                            field,
                            value: text.clone(),
                            source,
                        }
                    })
                }
            }
        };
        let start = resolve(&self.start, "start")?;
        let end = self.end.as_ref().map(|e| resolve(e, "end")).transpose()?;
        let exclusions = Exclusions::parse(&self.exclusions, schedule.zone())?;
        let mut def = TimeWindowPartitions::from_parts(schedule, fmt, start, end, self.end_offset);
        def.exclusions = exclusions.map(Arc::new);
        Ok(def)
    }
}

/// Partitions that are consecutive windows of a cron schedule in a time zone.
#[derive(Debug, Clone)]
pub struct TimeWindowPartitions {
    schedule: Schedule,
    fmt: Fmt,
    /// `fmt` + `%z`, for the second occurrence of a repeated wall time.
    fmt_with_offset: Fmt,
    start: i64,
    end: Option<i64>,
    end_offset: i64,
    /// The first tick at or after `start`, and the tick after it.
    first: Option<(i64, i64)>,
    /// Keys of a fall-back's second pass need the offset to stay unique.
    suffix_second_occurrence: bool,
    /// Fixed-width fast path of `fmt`, for formatting and parsing keys.
    template: Option<Template>,
    /// Ticks that are not partitions; indices then count the others.
    exclusions: Option<Arc<Exclusions>>,
}

impl PartialEq for TimeWindowPartitions {
    fn eq(&self, other: &Self) -> bool {
        self.schedule == other.schedule
            && self.fmt == other.fmt
            && self.start == other.start
            && self.end == other.end
            && self.end_offset == other.end_offset
            && self.exclusions.as_deref() == other.exclusions.as_deref()
    }
}
impl Eq for TimeWindowPartitions {}

impl fmt::Display for TimeWindowPartitions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.cadence() {
            Some(Cadence::Hourly) => "hourly",
            Some(Cadence::Daily) => "daily",
            Some(Cadence::Weekly) => "weekly",
            Some(Cadence::Monthly) => "monthly",
            None => "time-window",
        };
        write!(f, "{name} partitions ")?;
        if self.cadence().is_none() {
            write!(f, "{:?} ", self.schedule.cron().as_str())?;
        }
        write!(f, "from {}", self.format_instant(self.start))?;
        if let Some(end) = self.end {
            write!(f, " to {}", self.format_instant(end))?;
        }
        write!(f, " ({})", self.schedule.zone().name())?;
        if let Some(ex) = &self.exclusions {
            write!(f, " excluding {}", ex.text().join(", "))?;
        }
        Ok(())
    }
}

impl TimeWindowPartitions {
    /// Hourly partitions at `minute_offset` past each hour; keys `%Y-%m-%d-%H:%M`.
    pub fn hourly(start: impl Into<DateSpec>) -> TimeWindowBuilder {
        TimeWindowBuilder::new(BuilderKind::Cadence(Cadence::Hourly), start.into())
    }

    /// Daily partitions; keys `%Y-%m-%d`.
    pub fn daily(start: impl Into<DateSpec>) -> TimeWindowBuilder {
        TimeWindowBuilder::new(BuilderKind::Cadence(Cadence::Daily), start.into())
    }

    /// Weekly partitions starting on Sunday unless `day_offset` says otherwise.
    pub fn weekly(start: impl Into<DateSpec>) -> TimeWindowBuilder {
        TimeWindowBuilder::new(BuilderKind::Cadence(Cadence::Weekly), start.into())
    }

    /// Monthly partitions starting on the 1st unless `day_offset` says otherwise.
    pub fn monthly(start: impl Into<DateSpec>) -> TimeWindowBuilder {
        TimeWindowBuilder::new(BuilderKind::Cadence(Cadence::Monthly), start.into())
    }

    /// Windows between the ticks of any 5-field cron expression.
    pub fn cron(cron: &str, start: impl Into<DateSpec>, fmt: &str) -> TimeWindowBuilder {
        TimeWindowBuilder::new(BuilderKind::Cron(cron.to_string()), start.into()).fmt(fmt)
    }

    fn from_parts(
        schedule: Schedule,
        fmt: Fmt,
        start: i64,
        end: Option<i64>,
        end_offset: i64,
    ) -> Self {
        let first = schedule
            .next_at_or_after(start)
            .and_then(|t0| schedule.nth_from(t0, 1).map(|t1| (t0, t1)));
        let suffix_second_occurrence = schedule.cron().every_hour() && !fmt.has_offset();
        TimeWindowPartitions {
            template: fmt.template(),
            fmt_with_offset: fmt.with_offset_suffix(),
            schedule,
            fmt,
            start,
            end,
            end_offset,
            first,
            suffix_second_occurrence,
            exclusions: None,
        }
    }

    /// The exclusions as given (empty when there are none).
    pub fn exclusions(&self) -> &[String] {
        self.exclusions.as_deref().map_or(&[], Exclusions::text)
    }

    /// This definition without its exclusions: every tick a partition.
    pub fn without_exclusions(&self) -> TimeWindowPartitions {
        let mut plain = self.clone();
        plain.exclusions = None;
        plain
    }

    // ----- exclusions: base indices (every tick) and partition indices ----------------------

    /// The exclusion table covering base indices `[lo, hi)`, with the definition's base.
    fn excluded(&self, lo: i64, hi: i64) -> Option<Arc<Table>> {
        let ex = self.exclusions.as_deref()?;
        let (first, _) = self.first?;
        let base = Base {
            schedule: &self.schedule,
            first,
        };
        Some(ex.table(&base, lo, hi))
    }

    /// Start of base window `b` (every tick counted, from the first tick at or after start).
    fn base_start(&self, b: i64) -> Option<i64> {
        let (first, _) = self.first?;
        if b >= 0 {
            self.schedule.nth_from(first, b)
        } else {
            self.schedule.nth_before(first, -b - 1)
        }
    }

    /// Base index of the window holding `instant`.
    fn base_containing(&self, instant: i64) -> Option<i64> {
        let (first, _) = self.first?;
        if instant < first {
            let start = self.schedule.prev(instant + 1)?;
            return Some(-self.schedule.count(start, first));
        }
        Some(self.schedule.count(first, instant + 1) - 1)
    }

    /// Partitions among base indices `[0, b)` (negative below 0). Without exclusions, `b`.
    fn position(&self, b: i64) -> i64 {
        match self.excluded(b.min(0), b.max(0) + 1) {
            Some(t) => t.position(b),
            None => b,
        }
    }

    /// Base index of partition `e`.
    fn base_of(&self, e: i64) -> Option<i64> {
        if self.exclusions.is_none() {
            return Some(e);
        }
        let (mut lo, mut hi) = (e.min(0) - 1, e.max(0) + 1);
        loop {
            let table = self.excluded(lo, hi)?;
            if let Some(b) = table.base_of(e) {
                return Some(b);
            }
            let (clo, chi) = table.covered();
            if clo > lo || chi < hi {
                // The schedule ends before partition `e` (everything left is excluded).
                return None;
            }
            let width = (chi - clo).max(1024);
            if e >= 0 {
                hi = chi.saturating_add(width);
            } else {
                lo = clo.saturating_sub(width);
            }
        }
    }

    /// Partition indices `[i0, i1]` of the windows overlapping `[start, end)`; empty
    /// (`i1 < i0`) when that time holds no partition.
    pub fn indices_overlapping(&self, start: i64, end: i64) -> Option<(i64, i64)> {
        if start >= end {
            return None;
        }
        let b0 = self.base_containing(start)?;
        let b1 = self.base_containing(end - 1)?;
        let Some(table) = self.excluded(b0.min(0), b1.max(0) + 1) else {
            return Some((b0, b1));
        };
        // An excluded window overlaps nothing: step to the partitions either side of it. A
        // span inside excluded time gives `i1 = i0 - 1`: no partition, but a place between two,
        // which offsets in partitions (`start_offset = -1`) still widen into a partition.
        let i0 = table.position(b0);
        let i1 = table.position(b1) - i64::from(table.is_excluded(b1));
        Some((i0, i1))
    }

    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    pub fn cron_schedule(&self) -> &str {
        self.schedule.cron().as_str()
    }

    pub fn timezone(&self) -> &str {
        self.schedule.zone().name()
    }

    pub fn fmt(&self) -> &str {
        self.fmt.as_str()
    }

    /// The instant given as start (not snapped to a tick).
    pub fn start(&self) -> i64 {
        self.start
    }

    pub fn end(&self) -> Option<i64> {
        self.end
    }

    pub fn end_offset(&self) -> i64 {
        self.end_offset
    }

    /// Dagster's `schedule_type`: which plain cadence the cron is, if any.
    pub fn cadence(&self) -> Option<Cadence> {
        let cron = self.schedule.cron();
        let single_minute = cron.minutes().count_ones() == 1;
        let single_hour = cron.hours().count_ones() == 1;
        let all_days =
            !cron.dom_restricted() && !cron.dow_restricted() && cron.months() & 0x1ffe == 0x1ffe;
        if !single_minute {
            return None;
        }
        if cron.every_hour() && all_days {
            return Some(Cadence::Hourly);
        }
        if !single_hour {
            return None;
        }
        let all_months = cron.months() & 0x1ffe == 0x1ffe;
        match (cron.dom_restricted(), cron.dow_restricted()) {
            (false, false) if all_months => Some(Cadence::Daily),
            (false, true) if all_months && cron.days_of_week().count_ones() == 1 => {
                Some(Cadence::Weekly)
            }
            (true, false)
                if all_months
                    && cron.days_of_month().count_ones() == 1
                    && !cron.last_day_of_month() =>
            {
                Some(Cadence::Monthly)
            }
            _ => None,
        }
    }

    /// Start of the first window (the first tick at or after the start date).
    pub fn first_window_start(&self) -> Option<i64> {
        if self.exclusions.is_some() {
            return self.start_of_index(0);
        }
        self.first.map(|(t0, _)| t0)
    }

    fn format_instant(&self, instant: i64) -> String {
        let civil = civil::civil_from_naive(self.schedule.zone().naive(instant));
        let offset = self.schedule.zone().offset_at(instant);
        self.fmt.format(&civil, Some(offset))
    }

    // ----- keys and windows ----------------------------------------------------------------

    /// The key of the window starting at `start` (a tick).
    pub fn key_for_start(&self, start: i64) -> PartitionKey {
        let mut out = String::with_capacity(self.key_capacity());
        self.write_key(start, &mut out);
        PartitionKey::from(out)
    }

    fn key_capacity(&self) -> usize {
        // Room for a `%z` suffix too.
        self.fmt.as_str().len() + 16
    }

    fn write_key(&self, start: i64, out: &mut String) {
        let span = self.schedule.zone().span_at(start);
        self.write_key_in(start, &span, out);
    }

    /// [`Self::write_key`] with the offset span holding `start` already known (listing keys
    /// walks spans once instead of asking the time zone per key).
    fn write_key_in(&self, start: i64, span: &Span, out: &mut String) {
        let offset = span.offset;
        let civil = civil::civil_from_naive(start + i64::from(offset));
        if self.suffix_second_occurrence && span.is_second_occurrence(start) {
            self.fmt_with_offset.format_into(&civil, Some(offset), out);
            return;
        }
        if let Some(t) = &self.template
            && t.format_into(&civil, out)
        {
            return;
        }
        self.fmt.format_into(&civil, Some(offset), out);
    }

    /// The instant a key denotes, as Dagster parses it: with `fmt`, else with `fmt` + `%z`;
    /// a wall time without offset is read as its first occurrence.
    pub fn parse_key(&self, key: &str) -> Result<i64, Error> {
        if let Some(civil) = self.template.as_ref().and_then(|t| t.parse(key)) {
            return Ok(self
                .schedule
                .zone()
                .resolve_earlier(civil::naive_from_civil(&civil)));
        }
        parse_instant(&self.fmt, self.schedule.zone(), key).map_err(|source| Error::UnparsableKey {
            def: self.to_string(),
            key: key.to_string(),
            source,
        })
    }

    /// The window of a key: the first window starting at or after the time the key denotes.
    /// Like Dagster's `time_window_for_partition_key`, this does not check that the partition
    /// exists (keys before the start or after `now` get their window too).
    pub fn window_for_key(&self, key: &str) -> Result<TimeWindow, Error> {
        let instant = self.parse_key(key)?;
        self.window_starting_at_or_after(instant)
            .ok_or_else(|| Error::UnknownKey {
                def: self.to_string(),
                key: key.to_string(),
            })
    }

    fn window_starting_at_or_after(&self, instant: i64) -> Option<TimeWindow> {
        let mut start = self.schedule.next_at_or_after(instant)?;
        if let Some((first, _)) = self.first
            && self.exclusions.is_some()
        {
            // An excluded tick's key names the next partition, as in Dagster.
            let b = self.schedule.distance(first, start);
            if let Some((_, after)) = self.excluded(b.min(0), b.max(0) + 1)?.run_at(b) {
                start = self.base_start(after)?;
            }
        }
        let end = match self.schedule.fixed_period() {
            Some(period) => start.checked_add(period)?,
            None => self.schedule.nth_from(start, 1)?,
        };
        Some(self.window(start, end))
    }

    fn window(&self, start: i64, end: i64) -> TimeWindow {
        let zone = self.schedule.zone();
        TimeWindow {
            start,
            end,
            start_offset: zone.offset_at(start),
            end_offset: zone.offset_at(end),
        }
    }

    /// The window holding `instant` (the one whose start is the last tick at or before it).
    pub fn window_containing(&self, instant: i64) -> Option<TimeWindow> {
        let start = self.schedule.prev(instant + 1)?;
        if self.exclusions.is_some() {
            // Excluded time belongs to no partition.
            self.index_of_start(start)?;
        }
        let end = self.schedule.nth_from(start, 1)?;
        Some(self.window(start, end))
    }

    /// Index of the window starting at tick `start` (negative before the first window).
    pub fn index_of_start(&self, start: i64) -> Option<i64> {
        let (first, _) = self.first?;
        let b = self.schedule.distance(first, start);
        match self.excluded(b.min(0), b.max(0) + 1) {
            Some(t) if t.is_excluded(b) => None,
            Some(t) => Some(t.position(b)),
            None => Some(b),
        }
    }

    /// The index of the window holding `instant`.
    pub fn index_containing(&self, instant: i64) -> Option<i64> {
        let b = self.base_containing(instant)?;
        match self.excluded(b.min(0), b.max(0) + 1) {
            Some(t) if t.is_excluded(b) => None,
            Some(t) => Some(t.position(b)),
            None => Some(b),
        }
    }

    /// The start of window `index` (any sign).
    pub fn start_of_index(&self, index: i64) -> Option<i64> {
        let (first, _) = self.first?;
        if self.exclusions.is_some() {
            return self.base_start(self.base_of(index)?);
        }
        if index >= 0 {
            self.schedule.nth_from(first, index)
        } else {
            self.schedule.nth_before(first, -index - 1)
        }
    }

    /// Window `index` (any sign).
    pub fn window_at(&self, index: i64) -> Option<TimeWindow> {
        let start = self.start_of_index(index)?;
        let end = self.schedule.nth_from(start, 1)?;
        Some(self.window(start, end))
    }

    /// The key of window `index` (any sign).
    pub fn key_at(&self, index: i64) -> Option<PartitionKey> {
        self.start_of_index(index).map(|s| self.key_for_start(s))
    }

    /// Index of the window a key names, if the key is exactly that window's key (the key
    /// round-trips). Does not check existence at any time.
    pub fn index_of_key(&self, key: &str) -> Option<i64> {
        // Canonical text naming a tick directly (the usual case) is a key without formatting
        // it back; everything else takes the general round trip below.
        if let Some(civil) = self.template.as_ref().and_then(|t| t.parse(key)) {
            let naive = civil::naive_from_civil(&civil);
            let zone = self.schedule.zone();
            let instant = zone.resolve_earlier(naive);
            let span = zone.span_at(instant);
            if instant + i64::from(span.offset) == naive
                && !(self.suffix_second_occurrence && span.is_second_occurrence(instant))
                && self.schedule.is_tick(instant)
            {
                return self.index_of_start(instant);
            }
        }
        let window = self.window_for_key(key).ok()?;
        let mut buf = String::with_capacity(key.len());
        self.write_key(window.start, &mut buf);
        if buf != key {
            return None;
        }
        self.index_of_start(window.start)
    }

    // ----- which partitions exist ----------------------------------------------------------

    /// Number of partitions that exist at `now`.
    ///
    /// The last partition is the last window ending at or before `now`, moved by `end_offset`
    /// windows, and never past the end date. Like Dagster, a definition whose first window is
    /// allowed by `end_offset` keeps that one partition even when `end_offset` counted from
    /// `now` would stop short of it (a start date in the near future with `end_offset > 0`).
    pub fn count_at(&self, now: DateTime<Utc>) -> u64 {
        self.count_at_ts(now.timestamp()).max(0) as u64
    }

    pub(crate) fn count_at_ts(&self, now: i64) -> i64 {
        let Some((first, second)) = self.first else {
            return 0;
        };
        if self.exclusions.is_some() {
            return self.count_excluding(first, now);
        }
        if self.end.is_some_and(|end| end < second) {
            return 0;
        }
        // Windows that ended by `now`, counted from the first: negative when the first window
        // starts after `now` (the ticks between `now` and the start count down from -1).
        let complete = if first <= now {
            self.schedule.count(first, now.saturating_add(1)) - 1
        } else {
            -(self.schedule.count(now.saturating_add(1), first) + 1)
        };
        let mut n = complete + self.end_offset;
        if let Some(end) = self.end {
            n = n.min(self.max_count_by_end(first, end));
        }
        let first_exists = if self.end_offset > 0 {
            match self.schedule.nth_from(now, self.end_offset) {
                Some(limit) => second <= limit,
                None => true,
            }
        } else {
            n >= 1
        };
        if first_exists { n.max(1) } else { 0 }
    }

    /// [`Self::count_at_ts`] with exclusions. `end_offset` moves the boundary by windows of
    /// time, as without exclusions, and the excluded windows before it are then left out: with
    /// weekends excluded, `end_offset = 1` on a Saturday adds Saturday's window, which is no
    /// partition, rather than Monday's, which has not begun. Dagster 1.13 counts `end_offset`
    /// in partitions and lists Monday on Saturday (dagster#33551).
    fn count_excluding(&self, first: i64, now: i64) -> i64 {
        let Some(w0) = self.window_at(0) else {
            return 0;
        };
        if self.end.is_some_and(|end| end < w0.end) {
            return 0;
        }
        // Base windows that ended by `now` (negative when the first starts after it).
        let complete = if first <= now {
            self.schedule.count(first, now.saturating_add(1)) - 1
        } else {
            -(self.schedule.count(now.saturating_add(1), first) + 1)
        };
        let mut limit = complete.saturating_add(self.end_offset);
        if let Some(end) = self.end {
            limit = limit.min(self.max_count_by_end(first, end));
        }
        if self.end_offset > 0 && self.schedule.distance(first, now) + self.end_offset >= 1 {
            // As without exclusions: the first window exists once `end_offset` reaches it.
            limit = limit.max(1);
        }
        self.position(limit).max(0)
    }

    fn max_count_by_end(&self, first: i64, end: i64) -> i64 {
        self.schedule.count(first, end.saturating_add(1)) - 1
    }

    /// Keys of the partitions that exist at `now`, lazily.
    pub fn keys_at(&self, now: DateTime<Utc>) -> Keys<'_> {
        self.keys_from(0, self.count_at(now))
    }

    /// `count` keys starting with window `index` (which must be ≥ 0).
    pub fn keys_from(&self, index: i64, count: u64) -> Keys<'_> {
        let start = if count == 0 {
            None
        } else {
            self.start_of_index(index)
        };
        // In a fixed-offset zone with evenly spaced ticks, each key is the previous one plus the
        // period: no tick search, no offset lookup.
        let skip = match (start, self.first) {
            (Some(s), Some((first, _))) if self.exclusions.is_some() => {
                let b = self.schedule.distance(first, s);
                // The table must reach the last key listed.
                let last = self
                    .base_of(index.saturating_add(count as i64))
                    .unwrap_or(b);
                self.excluded(b.min(0), last.max(b) + 1)
                    .map(|table| Skip { table, next: b })
            }
            _ => None,
        };
        let stride = match (
            start,
            self.schedule.fixed_period(),
            self.schedule.zone().fixed(),
        ) {
            (Some(s), Some(period), Some(offset)) if self.template.is_some() && skip.is_none() => {
                Some(Stride {
                    next: s + i64::from(offset),
                    period,
                    offset,
                })
            }
            _ => None,
        };
        Keys {
            skip,
            def: self,
            ticks: start.map(|s| self.schedule.iter_from(s)),
            stride,
            remaining: count,
            span: None,
            buf: String::with_capacity(self.key_capacity()),
            fast: FastKeys::new(self.template.as_ref()),
        }
    }

    /// Does a partition with exactly this key exist at `now`?
    pub fn has_key(&self, key: &str, now: DateTime<Utc>) -> bool {
        self.index_of_key(key)
            .is_some_and(|i| i >= 0 && i < self.count_at_ts(now.timestamp()))
    }

    /// Indices `[first, last]` of an inclusive key range. Bounded by the start (an error, as in
    /// Dagster) and by the end date, not by `now`.
    pub fn range_indices(&self, start_key: &str, end_key: &str) -> Result<(i64, i64), Error> {
        let t0 = self.parse_key(start_key)?;
        let w0 = self.window_for_key(start_key)?;
        let w1 = self.window_for_key(end_key)?;
        let Some((first, _)) = self.first else {
            return Ok((0, -1));
        };
        // The key's own time, not its snapped window: a key before the start is an error even
        // when the next tick is not.
        if t0 < self.start {
            return Err(Error::RangeStartBeforeFirst {
                def: self.to_string(),
                start: start_key.to_string(),
                first: self.format_instant(self.start),
            });
        }
        if let Some(end) = self.end
            && w1.end > end
        {
            return Err(Error::RangeEndAfterLast {
                def: self.to_string(),
                end: end_key.to_string(),
                last: self.format_instant(end),
            });
        }
        let i0 = self.position(self.schedule.count(first, w0.start));
        let i1 = self.position(self.schedule.count(first, w1.start));
        Ok((i0, i1))
    }

    /// Checks the definition can work: every window must get a distinct key.
    pub fn validate(&self) -> Result<(), Error> {
        let needed = self.needed_resolution();
        if self.fmt.resolution() < needed {
            return Err(Error::InvalidDefinition {
                def: self.to_string(),
                reason: format!(
                    "key format {:?} cannot tell its windows apart (it needs {:?} precision)",
                    self.fmt.as_str(),
                    needed
                ),
            });
        }
        Ok(())
    }

    /// The finest calendar unit two consecutive ticks can differ in.
    fn needed_resolution(&self) -> Resolution {
        let cron = self.schedule.cron();
        if cron.minutes().count_ones() > 1 {
            return Resolution::Minute;
        }
        if cron.hours().count_ones() > 1 {
            return Resolution::Hour;
        }
        let one_day_a_month = cron.dom_restricted()
            && !cron.dow_restricted()
            && cron.days_of_month().count_ones() + u32::from(cron.last_day_of_month()) == 1;
        if !one_day_a_month {
            return Resolution::Day;
        }
        if cron.months().count_ones() > 1 {
            Resolution::Month
        } else {
            Resolution::Year
        }
    }

    /// Duration of the shortest possible window in seconds, a hint for callers sizing work.
    pub fn nominal_period_secs(&self) -> i64 {
        match self.cadence() {
            Some(Cadence::Hourly) => 3600,
            Some(Cadence::Daily) => SECS_PER_DAY,
            Some(Cadence::Weekly) => 7 * SECS_PER_DAY,
            Some(Cadence::Monthly) => 28 * SECS_PER_DAY,
            None => self.schedule.fixed_period().unwrap_or(60),
        }
    }
}

/// Parses `text` as Dagster's `dst_safe_strptime` does: `fmt`, then `fmt%z`; a naive result is
/// placed in the zone as its first occurrence.
fn parse_instant(fmt: &Fmt, zone: &Zone, text: &str) -> Result<i64, ParseError> {
    let parsed = match fmt.parse_datetime(text) {
        Ok(p) => p,
        Err(first_error) => {
            if fmt.has_offset() {
                return Err(first_error);
            }
            fmt.with_offset_suffix().parse_datetime(text)?
        }
    };
    let naive = civil::naive_from_civil(&parsed.civil);
    Ok(match parsed.offset {
        Some(offset) => naive - i64::from(offset),
        None => zone.resolve_earlier(naive),
    })
}

/// Keys of consecutive windows, formatted as they are produced.
#[derive(Debug)]
pub struct Keys<'a> {
    def: &'a TimeWindowPartitions,
    /// Excluded ticks to step over, with the base index of the next tick.
    skip: Option<Skip>,
    ticks: Option<TickIter<'a>>,
    stride: Option<Stride>,
    remaining: u64,
    span: Option<Span>,
    buf: String,
    fast: FastKeys,
}

#[derive(Debug)]
struct Skip {
    table: Arc<Table>,
    next: i64,
}

/// Naive time of the next key, for schedules that are pure arithmetic (see `keys_from`).
#[derive(Debug, Clone, Copy)]
struct Stride {
    next: i64,
    period: i64,
    offset: i32,
}

/// State of the template fast path while listing: the previous key's text and fields, and the
/// date of the current day, so each key costs a few digit writes.
#[derive(Debug)]
struct FastKeys {
    text: Vec<u8>,
    prev: Civil,
    day: Option<(i64, (i32, u8, u8))>,
}

impl FastKeys {
    fn new(template: Option<&Template>) -> Self {
        FastKeys {
            text: template.map(Template::blank).unwrap_or_default(),
            prev: Template::NOTHING,
            day: None,
        }
    }

    fn civil(&mut self, naive: i64) -> Civil {
        let days = naive.div_euclid(SECS_PER_DAY);
        let secs = naive.rem_euclid(SECS_PER_DAY);
        let (year, month, day) = match self.day {
            Some((d, date)) if d == days => date,
            _ => {
                let date = civil::civil_from_days(days);
                self.day = Some((days, date));
                date
            }
        };
        Civil {
            year,
            month,
            day,
            hour: (secs / 3600) as u8,
            minute: (secs / 60 % 60) as u8,
            second: (secs % 60) as u8,
        }
    }
}

impl Keys<'_> {
    fn fast_key(&mut self, start: i64, span: &Span) -> Option<PartitionKey> {
        let template = self.def.template.as_ref()?;
        if self.def.suffix_second_occurrence && span.is_second_occurrence(start) {
            return None;
        }
        let civil = self.fast.civil(start + i64::from(span.offset));
        if !template.update(&mut self.fast.text, &self.fast.prev, &civil) {
            return None;
        }
        self.fast.prev = civil;
        std::str::from_utf8(&self.fast.text)
            .ok()
            .map(PartitionKey::new)
    }
}

impl Iterator for Keys<'_> {
    type Item = PartitionKey;

    fn next(&mut self) -> Option<PartitionKey> {
        if self.remaining == 0 {
            return None;
        }
        if let Some(stride) = &mut self.stride {
            let naive = stride.next;
            stride.next += stride.period;
            self.remaining -= 1;
            let civil = self.fast.civil(naive);
            if let Some(template) = &self.def.template
                && template.update(&mut self.fast.text, &self.fast.prev, &civil)
                && let Ok(text) = std::str::from_utf8(&self.fast.text)
            {
                self.fast.prev = civil;
                return Some(PartitionKey::new(text));
            }
            return Some(self.def.key_for_start(naive - i64::from(stride.offset)));
        }
        let mut start = self.ticks.as_mut()?.next()?;
        if let Some(skip) = &mut self.skip {
            if let Some((_, after)) = skip.table.run_at(skip.next) {
                // Jump over the whole run rather than tick by tick.
                start = self.def.base_start(after)?;
                self.ticks = Some(self.def.schedule.iter_from(start));
                self.ticks.as_mut()?.next()?;
                skip.next = after;
            }
            skip.next += 1;
        }
        self.remaining -= 1;
        let span = match self.span {
            Some(span) if span.contains(start) => span,
            _ => {
                let span = self.def.schedule.zone().span_at(start);
                self.span = Some(span);
                span
            }
        };
        if let Some(key) = self.fast_key(start, &span) {
            return Some(key);
        }
        self.buf.clear();
        self.def.write_key_in(start, &span, &mut self.buf);
        Some(PartitionKey::new(&self.buf))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        // Exact: `remaining` is computed from the same schedule that yields the ticks.
        let n = usize::try_from(self.remaining).unwrap_or(usize::MAX);
        (n, Some(n))
    }
}
