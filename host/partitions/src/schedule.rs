//! Cron ticks in a time zone, counted and indexed with arithmetic.
//!
//! A cron expression fires on wall-clock ("naive") times. Those are easy to count: the ticks of
//! one matching day are a fixed list of times, and matching days follow a weekly or monthly
//! pattern. Turning wall-clock ticks into instants is where DST enters, and it only matters near
//! a transition. So the timeline is cut into *spans* of constant UTC offset (the time zone's
//! transitions, read on demand from the tz database), and inside a span instants and naive
//! times differ by a constant. Counting ticks between two instants costs one division per span
//! crossed, not one step per tick.
//!
//! DST policy, matching Dagster for whole-hour shifts and doing the unsurprising thing otherwise:
//! - Schedules that fire every hour (the hour field covers 0–23): a wall time that does not
//!   exist (spring-forward gap) has no tick; a wall time that happens twice (fall-back fold)
//!   ticks twice, once per occurrence.
//! - Other schedules (daily, weekly, every 4 hours, ...): a tick in a gap moves to the end of the
//!   gap, the first instant that exists; a tick in a fold fires once, at the second occurrence.
//!   Several gap ticks, or a gap tick and a tick at the gap's end, become one tick.
//!
//! Every hourly-style tick therefore sits on the cron's minute in local time, also in zones with
//! 30-minute shifts (Australia/Lord_Howe), where Dagster's absolute-hour stepping drifts.

use jiff::Timestamp;
use jiff::tz::{AmbiguousOffset, TimeZone};

use crate::civil::{
    self, MAX_NAIVE, MIN_NAIVE, SECS_PER_DAY, civil_from_days, days_from_civil, days_in_month,
    weekday,
};
use crate::cron::Cron;
use crate::error::Error;

/// Instants outside this span are treated as unbounded; they stay clear of `i64` overflow when
/// an offset is added, and of jiff's supported range.
const MIN_INSTANT: i64 = MIN_NAIVE - 2 * SECS_PER_DAY;
const MAX_INSTANT: i64 = MAX_NAIVE + 2 * SECS_PER_DAY;

/// An IANA time zone, compared by name.
#[derive(Clone, Debug)]
pub struct Zone {
    name: String,
    tz: TimeZone,
    /// Zones without any transition (UTC, Etc/GMT+5) skip the tz lookups entirely.
    fixed: Option<i32>,
}

impl PartialEq for Zone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for Zone {}

impl std::hash::Hash for Zone {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl Zone {
    /// Looks up an IANA zone name (`"UTC"`, `"America/New_York"`) in the bundled tz database.
    pub fn new(name: &str) -> Result<Zone, Error> {
        let tz = TimeZone::get(name).map_err(|_| Error::UnknownTimeZone(name.to_string()))?;
        let fixed = match Timestamp::from_second(MIN_INSTANT) {
            Ok(ts) if tz.following(ts).next().is_none() => Some(tz.to_offset(ts).seconds()),
            _ => None,
        };
        Ok(Zone {
            name: name.to_string(),
            tz,
            fixed,
        })
    }

    pub fn utc() -> Zone {
        Zone {
            name: "UTC".to_string(),
            tz: TimeZone::UTC,
            fixed: Some(0),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// UTC offset in seconds at an instant.
    /// The offset of a zone that has only one.
    pub(crate) fn fixed(&self) -> Option<i32> {
        self.fixed
    }

    pub fn offset_at(&self, instant: i64) -> i32 {
        if let Some(offset) = self.fixed {
            return offset;
        }
        match Timestamp::from_second(instant.clamp(MIN_INSTANT, MAX_INSTANT)) {
            Ok(ts) => self.tz.to_offset(ts).seconds(),
            Err(_) => 0,
        }
    }

    /// The constant-offset span holding `instant`.
    pub(crate) fn span_at(&self, instant: i64) -> Span {
        if let Some(offset) = self.fixed {
            return Span::unbounded(offset);
        }
        let instant = instant.clamp(MIN_INSTANT, MAX_INSTANT - 1);
        let offset = self.offset_at(instant);
        let (start, prev_offset) = match Timestamp::from_second(instant + 1)
            .ok()
            .and_then(|ts| self.tz.preceding(ts).next())
        {
            Some(t) if t.timestamp().as_second() > MIN_INSTANT => {
                let start = t.timestamp().as_second();
                (start, self.offset_at(start - 1))
            }
            _ => (MIN_INSTANT, offset),
        };
        let (end, next_offset) = match Timestamp::from_second(instant)
            .ok()
            .and_then(|ts| self.tz.following(ts).next())
        {
            Some(t) if t.timestamp().as_second() < MAX_INSTANT => {
                (t.timestamp().as_second(), t.offset().seconds())
            }
            _ => (MAX_INSTANT, offset),
        };
        Span {
            start,
            end,
            offset,
            prev_offset,
            next_offset,
        }
    }

    fn span_after(&self, span: &Span) -> Option<Span> {
        (span.end < MAX_INSTANT).then(|| self.span_at(span.end))
    }

    fn span_before(&self, span: &Span) -> Option<Span> {
        (span.start > MIN_INSTANT).then(|| self.span_at(span.start - 1))
    }

    /// Naive wall-clock seconds of an instant.
    pub(crate) fn naive(&self, instant: i64) -> i64 {
        instant + i64::from(self.offset_at(instant))
    }

    /// The instant of a wall-clock time as Python's `datetime.replace(tzinfo=...)` reads it
    /// (fold = 0): the first occurrence in a fold; in a gap, the offset from before the gap,
    /// which lands after the gap (02:30 in a 02:00→03:00 gap means 03:30).
    pub(crate) fn resolve_earlier(&self, naive: i64) -> i64 {
        match self.ambiguity(naive) {
            Ambiguity::Unique(o) => naive - i64::from(o),
            Ambiguity::Gap { before, .. } => naive - i64::from(before),
            Ambiguity::Fold { before, .. } => naive - i64::from(before),
        }
    }

    pub(crate) fn ambiguity(&self, naive: i64) -> Ambiguity {
        if let Some(offset) = self.fixed {
            return Ambiguity::Unique(offset);
        }
        let c = civil::civil_from_naive(naive.clamp(MIN_NAIVE, MAX_NAIVE));
        let Ok(dt) = jiff::civil::DateTime::new(
            c.year as i16,
            c.month as i8,
            c.day as i8,
            c.hour as i8,
            c.minute as i8,
            c.second as i8,
            0,
        ) else {
            return Ambiguity::Unique(0);
        };
        match self.tz.to_ambiguous_timestamp(dt).offset() {
            AmbiguousOffset::Unambiguous { offset } => Ambiguity::Unique(offset.seconds()),
            AmbiguousOffset::Gap { before, after } => Ambiguity::Gap {
                before: before.seconds(),
                after: after.seconds(),
            },
            AmbiguousOffset::Fold { before, after } => Ambiguity::Fold {
                before: before.seconds(),
                after: after.seconds(),
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ambiguity {
    Unique(i32),
    Gap { before: i32, after: i32 },
    Fold { before: i32, after: i32 },
}

/// Instants `[start, end)` sharing one UTC offset, with the offsets on either side.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    pub(crate) start: i64,
    pub(crate) end: i64,
    pub(crate) offset: i32,
    pub(crate) prev_offset: i32,
    pub(crate) next_offset: i32,
}

impl Span {
    pub(crate) fn contains(&self, instant: i64) -> bool {
        self.start <= instant && instant < self.end
    }

    /// Whether the wall time of `instant` (in this span) already occurred before the fall-back
    /// that opened the span.
    pub(crate) fn is_second_occurrence(&self, instant: i64) -> bool {
        self.start > MIN_INSTANT
            && self.prev_offset > self.offset
            && instant - self.start < i64::from(self.prev_offset - self.offset)
    }

    fn unbounded(offset: i32) -> Span {
        Span {
            start: MIN_INSTANT,
            end: MAX_INSTANT,
            offset,
            prev_offset: offset,
            next_offset: offset,
        }
    }
}

/// Which instants of a span are ticks: naive ticks in `[lo, hi)` at `naive - offset`, plus,
/// when `gap_tick`, the span's first instant (ticks moved out of the gap that opens it).
#[derive(Debug, Clone, Copy)]
struct TickSpan {
    start: i64,
    offset: i64,
    lo: i64,
    hi: i64,
    gap_tick: bool,
}

/// How matching days are laid out, chosen once so that counting them is arithmetic.
#[derive(Debug, Clone)]
enum DayKind {
    /// Every day.
    All,
    /// Only the weekday matters. `prefix[r]` counts matching days among the first `r` days of a
    /// week that starts on a Thursday (1970-01-01).
    Weekly { prefix: [i64; 8] },
    /// Fixed days (1–28) of some months: every matching month has `per_month` matching days.
    FixedMonthly {
        months: u16,
        doms: u32,
        per_month: i64,
        months_per_year: i64,
    },
    /// Anything else (day 29–31, `L`, day-of-month and day-of-week together): walk months.
    General,
}

/// A cron schedule in a time zone: the tick arithmetic behind time-window partitions.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    zone: Zone,
    /// Seconds after local midnight at which a matching day fires, ascending.
    times: Vec<i64>,
    every_hour: bool,
    days: DayKind,
    /// See [`Schedule::naive_period`]; computed once, asked per tick.
    naive_period: Option<i64>,
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.cron == other.cron && self.zone == other.zone
    }
}
impl Eq for Schedule {}

impl Schedule {
    pub fn new(cron: Cron, zone: Zone) -> Result<Schedule, Error> {
        let times: Vec<i64> = cron
            .times_of_day()
            .iter()
            .map(|&m| i64::from(m) * 60)
            .collect();
        let days = if cron.day_filter_is_weekly() {
            if cron.days_of_week() & 0x7f == 0x7f {
                DayKind::All
            } else {
                let mut prefix = [0i64; 8];
                for r in 0..7u8 {
                    let matches = cron.days_of_week() & (1 << ((4 + r) % 7)) != 0;
                    prefix[usize::from(r) + 1] = prefix[usize::from(r)] + i64::from(matches);
                }
                DayKind::Weekly { prefix }
            }
        } else if cron.day_filter_is_fixed_monthly() {
            let months = cron.months() & 0x1ffe;
            let doms = cron.days_of_month() & 0x1fff_fffe;
            DayKind::FixedMonthly {
                months,
                doms,
                per_month: i64::from(doms.count_ones()),
                months_per_year: i64::from(months.count_ones()),
            }
        } else {
            DayKind::General
        };
        let naive_period = even_spacing(&days, &times);
        let schedule = Schedule {
            every_hour: cron.every_hour(),
            cron,
            zone,
            times,
            days,
            naive_period,
        };
        // A 28-year window holds every weekday alignment and leap day, so a schedule silent
        // for that long never fires at all (`0 0 31 2,4 *`), and walking would never end.
        let from = days_from_civil(2000, 1, 1);
        let to = days_from_civil(2028, 1, 1);
        if schedule.times.is_empty() || schedule.count_days(from, to) == 0 {
            return Err(Error::CronNeverFires {
                cron: schedule.cron.to_string(),
            });
        }
        Ok(schedule)
    }

    pub fn cron(&self) -> &Cron {
        &self.cron
    }

    pub fn zone(&self) -> &Zone {
        &self.zone
    }

    /// True when consecutive ticks are a fixed number of seconds apart in absolute time, so a
    /// tick's index is a division (fixed-offset zone, every day, evenly spaced times).
    pub(crate) fn fixed_period(&self) -> Option<i64> {
        self.zone.fixed.and(self.naive_period)
    }

    /// True when consecutive naive (wall-clock) ticks are evenly spaced: every day, evenly
    /// spaced times. Within one offset span the next tick is then an addition.
    pub(crate) fn naive_period(&self) -> Option<i64> {
        self.naive_period
    }

    // ----- matching days -------------------------------------------------------------------

    fn day_matches(&self, day: i64) -> bool {
        match &self.days {
            DayKind::All => true,
            _ => {
                let (y, m, d) = civil_from_days(day);
                self.cron
                    .matches_day(m, d, weekday(day), days_in_month(y, m))
            }
        }
    }

    /// Rank of a day among matching days (matching days strictly before it), for the
    /// arithmetic day kinds; `None` for [`DayKind::General`].
    fn day_rank(&self, day: i64) -> Option<i64> {
        match &self.days {
            DayKind::All => Some(day),
            DayKind::Weekly { prefix } => {
                Some(day.div_euclid(7) * prefix[7] + prefix[day.rem_euclid(7) as usize])
            }
            DayKind::FixedMonthly {
                months,
                doms,
                per_month,
                months_per_year,
            } => {
                let (y, m, d) = civil_from_days(day);
                let below_month = months & ((1u16 << m) - 2);
                let months_before =
                    i64::from(y) * months_per_year + i64::from(below_month.count_ones());
                let within = if months & (1 << m) != 0 {
                    i64::from((doms & ((1u32 << d) - 2)).count_ones())
                } else {
                    0
                };
                Some(months_before * per_month + within)
            }
            DayKind::General => None,
        }
    }

    /// The matching day of a given rank (inverse of [`Self::day_rank`]).
    fn day_of_rank(&self, rank: i64) -> Option<i64> {
        match &self.days {
            DayKind::All => Some(rank),
            DayKind::Weekly { prefix } => {
                let per_week = prefix[7];
                let week = rank.div_euclid(per_week);
                let within = rank - week * per_week;
                (0..7)
                    .find(|&r| prefix[r] == within && prefix[r + 1] == within + 1)
                    .map(|r| week * 7 + r as i64)
            }
            DayKind::FixedMonthly {
                months,
                doms,
                per_month,
                months_per_year,
            } => {
                let slot = rank.div_euclid(*per_month);
                let within = (rank - slot * per_month) as u32;
                let year = slot.div_euclid(*months_per_year);
                let nth_month = (slot - year * months_per_year) as u32;
                let month = nth_set_bit(u32::from(*months), nth_month)?;
                let day = nth_set_bit(*doms, within)?;
                let year = i32::try_from(year).ok()?;
                Some(days_from_civil(year, month as u8, day as u8))
            }
            DayKind::General => None,
        }
    }

    /// Matching days in `[d0, d1)`.
    fn count_days(&self, d0: i64, d1: i64) -> i64 {
        if d1 <= d0 {
            return 0;
        }
        if let (Some(a), Some(b)) = (self.day_rank(d0), self.day_rank(d1)) {
            return b - a;
        }
        // General: whole months in the middle, counted a month at a time.
        let mut count = 0;
        let mut day = d0;
        while day < d1 {
            let (y, m, d) = civil_from_days(day);
            let dim = days_in_month(y, m);
            let month_end = day + i64::from(dim - d) + 1;
            let stop = month_end.min(d1);
            let mut wd = weekday(day);
            for dd in d..d + (stop - day) as u8 {
                if self.cron.matches_day(m, dd, wd, dim) {
                    count += 1;
                }
                wd = (wd + 1) % 7;
            }
            day = stop;
        }
        count
    }

    /// The `j`-th (0-based) matching day on or after `d0`.
    fn nth_day(&self, d0: i64, j: i64) -> Option<i64> {
        if let Some(rank) = self.day_rank(d0) {
            return self
                .day_of_rank(rank + j)
                .filter(|&d| d <= MAX_NAIVE / SECS_PER_DAY);
        }
        let mut remaining = j;
        let mut day = d0;
        let last_day = MAX_NAIVE / SECS_PER_DAY;
        while day <= last_day {
            let (y, m, d) = civil_from_days(day);
            let dim = days_in_month(y, m);
            let month_end = day + i64::from(dim - d) + 1;
            let in_month = self.count_days(day, month_end);
            if remaining < in_month {
                let mut wd = weekday(day);
                for dd in d..=dim {
                    if self.cron.matches_day(m, dd, wd, dim) {
                        if remaining == 0 {
                            return Some(day + i64::from(dd - d));
                        }
                        remaining -= 1;
                    }
                    wd = (wd + 1) % 7;
                }
                return None;
            }
            remaining -= in_month;
            day = month_end;
        }
        None
    }

    /// The last matching day strictly before `d`.
    fn prev_day(&self, d: i64) -> Option<i64> {
        if let Some(rank) = self.day_rank(d) {
            return self
                .day_of_rank(rank - 1)
                .filter(|&x| x >= MIN_NAIVE / SECS_PER_DAY);
        }
        let first_day = MIN_NAIVE / SECS_PER_DAY;
        let mut day = d - 1;
        while day >= first_day {
            let (_, _, dd) = civil_from_days(day);
            let month_start = day - i64::from(dd) + 1;
            // Skip whole months that hold no match before walking day by day.
            if self.count_days(month_start, day + 1) == 0 {
                day = month_start - 1;
                continue;
            }
            while !self.day_matches(day) {
                day -= 1;
            }
            return Some(day);
        }
        None
    }

    // ----- naive ticks ---------------------------------------------------------------------

    /// Ticks of day `day` strictly before `secs` seconds after midnight.
    fn ticks_before_in_day(&self, day: i64, secs: i64) -> i64 {
        if !self.day_matches(day) {
            return 0;
        }
        self.times.partition_point(|&t| t < secs) as i64
    }

    /// Naive ticks in `[n0, n1)`.
    fn naive_count(&self, n0: i64, n1: i64) -> i64 {
        if n1 <= n0 {
            return 0;
        }
        let (d0, s0) = (n0.div_euclid(SECS_PER_DAY), n0.rem_euclid(SECS_PER_DAY));
        let (d1, s1) = (n1.div_euclid(SECS_PER_DAY), n1.rem_euclid(SECS_PER_DAY));
        self.count_days(d0, d1) * self.times.len() as i64 - self.ticks_before_in_day(d0, s0)
            + self.ticks_before_in_day(d1, s1)
    }

    /// The `k`-th (0-based) naive tick at or after `n0`.
    fn nth_naive(&self, n0: i64, k: i64) -> Option<i64> {
        let (d0, s0) = (n0.div_euclid(SECS_PER_DAY), n0.rem_euclid(SECS_PER_DAY));
        let per_day = self.times.len() as i64;
        let k = k + self.ticks_before_in_day(d0, s0);
        let day = self.nth_day(d0, k.div_euclid(per_day))?;
        let n = day * SECS_PER_DAY + self.times[k.rem_euclid(per_day) as usize];
        (n <= MAX_NAIVE).then_some(n)
    }

    /// The last naive tick strictly before `n`.
    fn prev_naive(&self, n: i64) -> Option<i64> {
        let (d, s) = (n.div_euclid(SECS_PER_DAY), n.rem_euclid(SECS_PER_DAY));
        let before = self.ticks_before_in_day(d, s);
        if before > 0 {
            return Some(d * SECS_PER_DAY + self.times[before as usize - 1]);
        }
        let day = self.prev_day(d)?;
        let last = *self.times.last()?;
        Some(day * SECS_PER_DAY + last)
    }

    // ----- instants ------------------------------------------------------------------------

    fn tick_span(&self, span: &Span) -> TickSpan {
        let offset = i64::from(span.offset);
        let (start, end) = (span.start, span.end);
        if self.every_hour {
            return TickSpan {
                start,
                offset,
                lo: start + offset,
                hi: end + offset,
                gap_tick: false,
            };
        }
        let prev = i64::from(span.prev_offset);
        let next = i64::from(span.next_offset);
        let opens_gap = start > MIN_INSTANT && offset > prev;
        let gap_tick = opens_gap && self.naive_count(start + prev, start + offset + 1) > 0;
        let lo = if opens_gap {
            start + offset + 1
        } else {
            start + offset
        };
        // Before a fold, the repeated wall times belong to the later occurrence.
        let hi = if end < MAX_INSTANT && next < offset {
            end + next
        } else {
            end + offset
        };
        TickSpan {
            start,
            offset,
            lo,
            hi,
            gap_tick,
        }
    }

    /// Ticks of one span with instants in `[a, b)`.
    fn count_in(&self, ts: &TickSpan, a: i64, b: i64) -> i64 {
        let flag = ts.gap_tick && a <= ts.start && ts.start < b;
        let lo = ts.lo.max(a.saturating_add(ts.offset));
        let hi = ts.hi.min(b.saturating_add(ts.offset));
        i64::from(flag) + self.naive_count(lo, hi)
    }

    /// Number of ticks in `[a, b)`.
    pub fn count(&self, a: i64, b: i64) -> i64 {
        let (a, b) = (a.max(MIN_INSTANT), b.min(MAX_INSTANT));
        if b <= a {
            return 0;
        }
        if let (Some(period), Some(offset)) = (self.fixed_period(), self.zone.fixed) {
            // Ticks sit at `phase + k * period`: count the multiples in [a, b).
            let phase = self.times[0] - i64::from(offset);
            let below = |x: i64| {
                (x - phase).div_euclid(period) + i64::from((x - phase).rem_euclid(period) != 0)
            };
            return below(b) - below(a);
        }
        let mut span = self.zone.span_at(a);
        let mut total = 0;
        loop {
            total += self.count_in(&self.tick_span(&span), a, b);
            if span.end >= b {
                return total;
            }
            match self.zone.span_after(&span) {
                Some(next) => span = next,
                None => return total,
            }
        }
    }

    /// Signed tick distance: ticks in `[a, b)` when `a <= b`, minus ticks in `[b, a)` otherwise.
    pub fn distance(&self, a: i64, b: i64) -> i64 {
        if a <= b {
            self.count(a, b)
        } else {
            -self.count(b, a)
        }
    }

    /// The `k`-th (0-based) tick at or after `a`.
    pub fn nth_from(&self, a: i64, k: i64) -> Option<i64> {
        if k < 0 {
            return self.nth_before(a, -k - 1);
        }
        if a > MAX_INSTANT {
            return None;
        }
        let a = a.max(MIN_INSTANT);
        if let Some(period) = self.fixed_period() {
            // Evenly spaced ticks in a fixed zone: straight arithmetic.
            let phase = self.times[0] - i64::from(self.zone.fixed.unwrap_or(0));
            let first = a + (phase - a).rem_euclid(period);
            let tick = first.checked_add(k.checked_mul(period)?)?;
            return (tick + i64::from(self.zone.fixed.unwrap_or(0)) <= MAX_NAIVE).then_some(tick);
        }
        let mut k = k;
        let mut span = self.zone.span_at(a);
        loop {
            let ts = self.tick_span(&span);
            if ts.gap_tick && a <= ts.start {
                if k == 0 {
                    return Some(ts.start);
                }
                k -= 1;
            }
            let lo = ts.lo.max(a + ts.offset);
            if span.end >= MAX_INSTANT {
                return self.nth_naive(lo, k).map(|n| n - ts.offset);
            }
            let here = self.naive_count(lo, ts.hi);
            if k < here {
                return self.nth_naive(lo, k).map(|n| n - ts.offset);
            }
            k -= here;
            span = self.zone.span_after(&span)?;
        }
    }

    /// The `k`-th (0-based) tick strictly before `b`, counting backwards.
    pub fn nth_before(&self, b: i64, k: i64) -> Option<i64> {
        let mut b = b.min(MAX_INSTANT);
        let mut tick = None;
        for _ in 0..=k {
            tick = Some(self.prev(b)?);
            b = tick?;
        }
        tick
    }

    /// The last tick strictly before `b`.
    pub fn prev(&self, b: i64) -> Option<i64> {
        let mut b = b.min(MAX_INSTANT);
        if b <= MIN_INSTANT {
            return None;
        }
        if let Some(period) = self.fixed_period() {
            let phase = self.times[0] - i64::from(self.zone.fixed.unwrap_or(0));
            let tick = b - 1 - (b - 1 - phase).rem_euclid(period);
            return (tick + i64::from(self.zone.fixed.unwrap_or(0)) >= MIN_NAIVE).then_some(tick);
        }
        let mut span = self.zone.span_at(b - 1);
        loop {
            let ts = self.tick_span(&span);
            let hi = ts.hi.min(b + ts.offset);
            if ts.lo < hi
                && let Some(n) = self.prev_naive(hi)
                && n >= ts.lo
            {
                return Some(n - ts.offset);
            }
            if ts.gap_tick && ts.start < b {
                return Some(ts.start);
            }
            b = b.min(span.start);
            span = self.zone.span_before(&span)?;
        }
    }

    /// The first tick at or after `a`.
    pub fn next_at_or_after(&self, a: i64) -> Option<i64> {
        self.nth_from(a, 0)
    }

    pub fn is_tick(&self, instant: i64) -> bool {
        self.nth_from(instant, 0) == Some(instant)
    }

    /// Ticks from `a` onwards, in order, without per-tick searches.
    pub fn iter_from(&self, a: i64) -> TickIter<'_> {
        let a = a.clamp(MIN_INSTANT, MAX_INSTANT);
        let span = self.zone.span_at(a);
        let ts = self.tick_span(&span);
        TickIter {
            schedule: self,
            span,
            ts,
            pending_gap_tick: ts.gap_tick && a <= ts.start,
            cursor: ts.lo.max(a + ts.offset),
            done: false,
            period: self.naive_period(),
            last_naive: None,
        }
    }

    /// The next naive tick at or after `n`, cheaply when it falls on the same or next day.
    fn next_naive(&self, n: i64) -> Option<i64> {
        let (d, s) = (n.div_euclid(SECS_PER_DAY), n.rem_euclid(SECS_PER_DAY));
        if self.day_matches(d) {
            let i = self.times.partition_point(|&t| t < s);
            if let Some(t) = self.times.get(i) {
                return Some(d * SECS_PER_DAY + t);
            }
        }
        let day = self.nth_day(d + 1, 0)?;
        let n = day * SECS_PER_DAY + self.times[0];
        (n <= MAX_NAIVE).then_some(n)
    }
}

/// The `n`-th (0-based) set bit of `mask`.
fn nth_set_bit(mask: u32, n: u32) -> Option<u32> {
    let mut seen = 0;
    for bit in 0..32 {
        if mask & (1 << bit) != 0 {
            if seen == n {
                return Some(bit);
            }
            seen += 1;
        }
    }
    None
}

/// Iterator over consecutive ticks (instants), see [`Schedule::iter_from`].
#[derive(Debug)]
pub struct TickIter<'a> {
    schedule: &'a Schedule,
    span: Span,
    ts: TickSpan,
    pending_gap_tick: bool,
    cursor: i64,
    done: bool,
    /// [`Schedule::naive_period`], and the naive tick last returned in the current span.
    period: Option<i64>,
    last_naive: Option<i64>,
}

impl Iterator for TickIter<'_> {
    type Item = i64;

    fn next(&mut self) -> Option<i64> {
        loop {
            if self.done {
                return None;
            }
            if self.pending_gap_tick {
                self.pending_gap_tick = false;
                return Some(self.ts.start);
            }
            if let (Some(p), Some(last)) = (self.period, self.last_naive)
                && last + p < self.ts.hi
            {
                let n = last + p;
                self.cursor = n + 1;
                self.last_naive = Some(n);
                return Some(n - self.ts.offset);
            }
            if self.cursor < self.ts.hi {
                match self.schedule.next_naive(self.cursor) {
                    Some(n) if n < self.ts.hi => {
                        self.cursor = n + 1;
                        self.last_naive = Some(n);
                        return Some(n - self.ts.offset);
                    }
                    Some(_) => {}
                    None => {
                        self.done = true;
                        return None;
                    }
                }
            }
            match self.schedule.zone.span_after(&self.span) {
                Some(span) => {
                    self.span = span;
                    self.ts = self.schedule.tick_span(&span);
                    self.pending_gap_tick = self.ts.gap_tick;
                    self.cursor = self.ts.lo;
                    self.last_naive = None;
                }
                None => self.done = true,
            }
        }
    }
}

/// The spacing of ticks that fire every day at evenly spaced times (see
/// [`Schedule::naive_period`]).
fn even_spacing(days: &DayKind, times: &[i64]) -> Option<i64> {
    if !matches!(days, DayKind::All) || times.is_empty() {
        return None;
    }
    let n = times.len() as i64;
    let step = SECS_PER_DAY / n;
    let even = SECS_PER_DAY % n == 0
        && times.windows(2).all(|w| w[1] - w[0] == step)
        && times.first().is_some_and(|&t| t < step);
    even.then_some(step)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(cron: &str, zone: &str) -> Schedule {
        Schedule::new(Cron::parse(cron).unwrap(), Zone::new(zone).unwrap()).unwrap()
    }

    /// The arithmetic shortcuts (fixed spacing, cached spans) agree with walking the ticks.
    #[test]
    fn shortcuts_agree_with_walking() {
        let starts = [
            1_700_000_000_i64,
            1_709_950_000,
            1_730_600_000,
            1_711_846_000,
            1_712_400_000,
        ];
        for cron in [
            "0 * * * *",
            "*/15 * * * *",
            "30 * * * *",
            "0 0 * * *",
            "0 6 * * *",
            "0 */4 * * *",
            "15 3 1 * *",
            "0 0 * * 1-5",
        ] {
            for zone in [
                "UTC",
                "Asia/Kolkata",
                "America/New_York",
                "Europe/Berlin",
                "Australia/Lord_Howe",
            ] {
                let s = schedule(cron, zone);
                for &a in &starts {
                    for len in [0_i64, 1, 899, 3600, 86_400, 7 * 86_400 + 17] {
                        let b = a + len;
                        let walked = s.iter_from(a).take_while(|&t| t < b).count() as i64;
                        assert_eq!(s.count(a, b), walked, "{cron} {zone} [{a}, {b})");
                        let first = s.iter_from(a).next();
                        assert_eq!(s.next_at_or_after(a), first, "{cron} {zone} {a}");
                        let mut it = s.iter_from(a);
                        for k in 0..30 {
                            assert_eq!(s.nth_from(a, k), it.next(), "{cron} {zone} {a} +{k}");
                        }
                    }
                }
            }
        }
    }
}
