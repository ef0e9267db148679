//! Calendar exclusions of a time-window definition: ticks of its schedule that are not
//! partitions (weekends, holidays, a business calendar).
//!
//! Semantics are Dagster 1.13's (`TimeWindowPartitionsDefinition(exclusions=…)`): a tick is
//! excluded when it is a tick of an excluded cron schedule or an excluded date-time, and an
//! excluded tick's window is simply not a partition — the windows of the other ticks keep
//! their extent, so excluded time belongs to no partition. Tessera adds excluded *dates*
//! (`2024-12-25`): every tick on that local calendar day, which is what a holiday list means
//! for an hourly or a 06:00-daily definition (a Dagster date-time only matches a tick at
//! exactly that wall time).
//!
//! Nothing here lists keys. Excluded ticks come in runs (a weekend of an hourly schedule is one
//! run of 48 base indices), and a definition keeps a sorted table of those runs with prefix
//! sums over the span of time it has been asked about: counting, key ↔ index and listing are
//! binary searches. The table is built by walking calendar *days* (or ticks, for schedules
//! firing at most daily), so ten years of hourly windows with every weekend excluded cost
//! 3,653 day checks once and about 1,100 runs — kilobytes — after that.

use std::sync::{Arc, RwLock};

use crate::civil::{self, SECS_PER_DAY};
use crate::cron::Cron;
use crate::error::Error;
use crate::schedule::{Ambiguity, Schedule, Zone};

/// One excluded thing, as written by a user.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Exclusion {
    /// Every tick on this local day (days since 1970-01-01).
    Date(i64),
    /// The tick at exactly this local wall time (naive seconds), as Dagster's datetimes.
    DateTime(i64),
    /// Every tick that is also a tick of this schedule.
    Cron(Cron),
}

/// The exclusions of a definition, with the table of excluded runs it has computed so far.
#[derive(Debug)]
pub(crate) struct Exclusions {
    /// As given, for display and equality.
    text: Vec<String>,
    dates: Vec<i64>,
    datetimes: Vec<i64>,
    /// Excluded schedules in the definition's zone: a tick is excluded when it is one of
    /// theirs, with their own reading of DST (a daily 01:00 fires once on a fall-back day).
    crons: Vec<Schedule>,
    table: RwLock<Arc<Table>>,
}

impl PartialEq for Exclusions {
    fn eq(&self, other: &Self) -> bool {
        self.dates == other.dates && self.datetimes == other.datetimes && self.crons == other.crons
    }
}

impl Exclusions {
    /// Parses exclusions: `YYYY-MM-DD` (a whole local day), `YYYY-MM-DDTHH:MM[:SS]` or with a
    /// space (one wall time), or a 5-field cron expression.
    pub(crate) fn parse<S: AsRef<str>>(
        items: &[S],
        zone: &Zone,
    ) -> Result<Option<Exclusions>, Error> {
        if items.is_empty() {
            return Ok(None);
        }
        let mut text = Vec::with_capacity(items.len());
        let (mut dates, mut datetimes, mut crons) = (Vec::new(), Vec::new(), Vec::new());
        for item in items {
            let raw = item.as_ref().trim();
            match parse_one(raw)? {
                Exclusion::Date(d) => dates.push(d),
                Exclusion::DateTime(n) => datetimes.push(n),
                Exclusion::Cron(c) => {
                    let schedule =
                        Schedule::new(c, zone.clone()).map_err(|e| Error::InvalidExclusion {
                            value: raw.to_string(),
                            reason: e.to_string(),
                        })?;
                    if !crons.contains(&schedule) {
                        crons.push(schedule);
                    }
                }
            }
            text.push(raw.to_string());
        }
        dates.sort_unstable();
        dates.dedup();
        datetimes.sort_unstable();
        datetimes.dedup();
        Ok(Some(Exclusions {
            text,
            dates,
            datetimes,
            crons,
            table: RwLock::new(Arc::new(Table::empty())),
        }))
    }

    pub(crate) fn text(&self) -> &[String] {
        &self.text
    }

    /// The table, covering at least base indices `[lo, hi)` of `base` (as far as the schedule
    /// has ticks).
    pub(crate) fn table(&self, base: &Base<'_>, lo: i64, hi: i64) -> Arc<Table> {
        if let Ok(t) = self.table.read()
            && t.covers(lo, hi)
        {
            return Arc::clone(&t);
        }
        let mut guard = match self.table.write() {
            Ok(g) => g,
            // A panic elsewhere cannot leave a half-built table: tables are replaced whole.
            Err(poisoned) => poisoned.into_inner(),
        };
        if guard.covers(lo, hi) {
            return Arc::clone(&guard);
        }
        let built = self.build(base, &guard, lo, hi);
        *guard = Arc::new(built);
        Arc::clone(&guard)
    }

    /// A table covering `[lo, hi)`, grown geometrically in time from `old` so repeated growth
    /// costs as much as one build of the final span.
    fn build(&self, base: &Base<'_>, old: &Table, lo: i64, hi: i64) -> Table {
        let year = 366 * SECS_PER_DAY;
        let (mut t_lo, mut t_hi) = if old.is_empty() {
            (base.first - year, base.first + 4 * year)
        } else {
            (old.t_lo, old.t_hi)
        };
        let (min, max) = (MIN_T, MAX_T);
        loop {
            let b_lo = base.index_at_or_after(t_lo);
            let b_hi = base.index_at_or_after(t_hi);
            let low_ok = b_lo <= lo || t_lo <= min;
            let high_ok = b_hi >= hi || t_hi >= max;
            if low_ok && high_ok {
                break;
            }
            let width = (t_hi - t_lo).max(year);
            if !low_ok {
                t_lo = t_lo.saturating_sub(width).max(min);
            }
            if !high_ok {
                t_hi = t_hi.saturating_add(width).min(max);
            }
        }
        self.build_between(base, t_lo.max(min), t_hi.min(max))
    }

    fn build_between(&self, base: &Base<'_>, t_lo: i64, t_hi: i64) -> Table {
        let lo = base.index_at_or_after(t_lo);
        let hi = base.index_at_or_after(t_hi);
        let mut runs = Runs::default();
        let zone = base.schedule.zone();
        // A wall time in a spring-forward gap never happens, so it names no tick (Dagster's
        // `replace(tzinfo=…)` would push it past the gap and exclude the next hour's tick).
        let datetimes: Vec<i64> = self
            .datetimes
            .iter()
            .filter(|&&n| !matches!(zone.ambiguity(n), Ambiguity::Gap { .. }))
            .map(|&n| zone.resolve_earlier(n))
            .collect();
        if base.schedule.cron().ticks_per_day() > 1 {
            self.walk_days(base, t_lo, t_hi, lo, &datetimes, &mut runs);
        } else {
            self.walk_ticks(base, t_lo, t_hi, lo, &datetimes, &mut runs);
        }
        Table::new(t_lo, t_hi, lo, hi, runs.0)
    }

    /// Tests each tick of `[t_lo, t_hi)`, the first at base index `lo`: the whole span for
    /// schedules firing at most once a day, single days for [`Self::walk_days`].
    fn walk_ticks(
        &self,
        base: &Base<'_>,
        t_lo: i64,
        t_hi: i64,
        lo: i64,
        datetimes: &[i64],
        runs: &mut Runs,
    ) {
        let zone = base.schedule.zone();
        let ticks = base.schedule.iter_from(t_lo).take_while(|&t| t < t_hi);
        for (index, tick) in (lo..).zip(ticks) {
            if self.excludes_tick(zone, tick, datetimes) {
                runs.push(index, index + 1);
            }
        }
    }

    /// Schedules firing several times a day: whole days at once where a rule covers every
    /// tick of the day, tick by tick only on days a narrower rule touches.
    fn walk_days(
        &self,
        base: &Base<'_>,
        t_lo: i64,
        t_hi: i64,
        lo: i64,
        datetimes: &[i64],
        runs: &mut Runs,
    ) {
        let zone = base.schedule.zone();
        let cron = base.schedule.cron();
        let whole_day = |c: &Cron| {
            c.minutes() & cron.minutes() == cron.minutes()
                && c.hours() & cron.hours() == cron.hours()
        };
        let (wide, narrow): (Vec<&Schedule>, Vec<&Schedule>) =
            self.crons.iter().partition(|s| whole_day(s.cron()));
        let first_day = zone.naive(t_lo).div_euclid(SECS_PER_DAY);
        let last_day = zone.naive(t_hi - 1).div_euclid(SECS_PER_DAY);
        // Base index of `cursor`, advanced with counts over short spans.
        let (mut cursor, mut cursor_index) = (t_lo, lo);
        let mut index_at = |t: i64| {
            cursor_index += base.schedule.distance(cursor, t);
            cursor = t;
            cursor_index
        };
        let mut dt = datetimes.partition_point(|&t| t < t_lo);
        for day in first_day..=last_day {
            let start = zone.resolve_earlier(day * SECS_PER_DAY).max(t_lo);
            let end = zone.resolve_earlier((day + 1) * SECS_PER_DAY).min(t_hi);
            if start >= end {
                continue;
            }
            let (y, m, d) = civil::civil_from_days(day);
            let wd = civil::weekday(day);
            let dim = civil::days_in_month(y, m);
            let matches = |s: &&Schedule| s.cron().matches_day(m, d, wd, dim);
            let whole = self.dates.binary_search(&day).is_ok() || wide.iter().any(matches);
            let has_datetime = datetimes.get(dt).is_some_and(|&t| t < end);
            while datetimes.get(dt).is_some_and(|&t| t < end) {
                dt += 1;
            }
            if whole {
                let (a, b) = (index_at(start), index_at(end));
                runs.push(a, b);
                continue;
            }
            if !has_datetime && !narrow.iter().any(matches) {
                continue;
            }
            let first = index_at(start);
            self.walk_ticks(base, start, end, first, datetimes, runs);
        }
    }

    /// Is this tick excluded by any rule?
    fn excludes_tick(&self, zone: &Zone, tick: i64, datetimes: &[i64]) -> bool {
        let naive = zone.naive(tick);
        let day = naive.div_euclid(SECS_PER_DAY);
        if self.dates.binary_search(&day).is_ok() || datetimes.binary_search(&tick).is_ok() {
            return true;
        }
        self.crons.iter().any(|s| s.is_tick(tick))
    }
}

fn parse_one(raw: &str) -> Result<Exclusion, Error> {
    let invalid = |reason: String| Error::InvalidExclusion {
        value: raw.to_string(),
        reason,
    };
    let looks_like_date = raw.len() >= 10
        && raw.as_bytes()[4] == b'-'
        && raw.as_bytes()[7] == b'-'
        && raw.as_bytes()[..4].iter().all(u8::is_ascii_digit);
    if !looks_like_date {
        return Cron::parse(raw).map(Exclusion::Cron).map_err(|e| {
            invalid(format!(
                "not a date (YYYY-MM-DD), a date-time or a cron schedule: {e}"
            ))
        });
    }
    let num = |s: &str| s.parse::<u32>().ok();
    let date = raw.get(..10).unwrap_or(raw);
    let (Some(y), Some(mo), Some(d)) = (
        date.get(..4).and_then(num),
        date.get(5..7).and_then(num),
        date.get(8..10).and_then(num),
    ) else {
        return Err(invalid("expected YYYY-MM-DD".to_string()));
    };
    let (Ok(y), Ok(mo), Ok(d)) = (i32::try_from(y), u8::try_from(mo), u8::try_from(d)) else {
        return Err(invalid("expected YYYY-MM-DD".to_string()));
    };
    if !(1..=9999).contains(&y)
        || !(1..=12).contains(&mo)
        || d == 0
        || d > civil::days_in_month(y, mo)
    {
        return Err(invalid("no such calendar date".to_string()));
    }
    let day = civil::days_from_civil(y, mo, d);
    let rest = &raw[10..];
    if rest.is_empty() {
        return Ok(Exclusion::Date(day));
    }
    let time = rest
        .strip_prefix('T')
        .or_else(|| rest.strip_prefix(' '))
        .ok_or_else(|| invalid("a date-time is YYYY-MM-DDTHH:MM[:SS]".to_string()))?;
    let parts: Vec<&str> = time.split(':').collect();
    let field = |i: usize, max: u32| -> Result<i64, Error> {
        match parts.get(i) {
            None => Ok(0),
            Some(p) if p.len() == 2 => match num(p) {
                Some(v) if v <= max => Ok(i64::from(v)),
                _ => Err(invalid("a date-time is YYYY-MM-DDTHH:MM[:SS]".to_string())),
            },
            Some(_) => Err(invalid("a date-time is YYYY-MM-DDTHH:MM[:SS]".to_string())),
        }
    };
    if !(2..=3).contains(&parts.len()) {
        return Err(invalid("a date-time is YYYY-MM-DDTHH:MM[:SS]".to_string()));
    }
    let secs = field(0, 23)? * 3600 + field(1, 59)? * 60 + field(2, 59)?;
    Ok(Exclusion::DateTime(day * SECS_PER_DAY + secs))
}

/// The span of time tables cover at most (a day inside the supported years either way, so
/// local days near the ends resolve in any zone).
const MIN_T: i64 = civil::MIN_NAIVE + 2 * SECS_PER_DAY;
const MAX_T: i64 = civil::MAX_NAIVE - 2 * SECS_PER_DAY;

/// The base schedule an exclusion table indexes: ticks counted from `first` (index 0).
pub(crate) struct Base<'a> {
    pub(crate) schedule: &'a Schedule,
    pub(crate) first: i64,
}

impl Base<'_> {
    /// Base index of the first tick at or after `t`.
    pub(crate) fn index_at_or_after(&self, t: i64) -> i64 {
        self.schedule.distance(self.first, t)
    }
}

/// Sorted, merged runs being collected.
#[derive(Default)]
struct Runs(Vec<(i64, i64)>);

impl Runs {
    fn push(&mut self, a: i64, b: i64) {
        if a >= b {
            return;
        }
        match self.0.last_mut() {
            Some(last) if last.1 >= a => last.1 = last.1.max(b),
            _ => self.0.push((a, b)),
        }
    }
}

/// Excluded runs of base indices over a covered span, with prefix sums.
#[derive(Debug)]
pub(crate) struct Table {
    t_lo: i64,
    t_hi: i64,
    /// Covered base indices `[lo, hi)`.
    lo: i64,
    hi: i64,
    runs: Vec<(i64, i64)>,
    /// `cum[k]`: excluded indices in `runs[..k]`.
    cum: Vec<i64>,
    /// `runs[k].0 - cum[k]`, non-decreasing: where run `k` starts once earlier runs are gone.
    shifted: Vec<i64>,
    /// Excluded indices in `[lo, 0)`.
    zero: i64,
}

impl Table {
    fn empty() -> Table {
        Table::new(0, 0, 0, 0, Vec::new())
    }

    fn new(t_lo: i64, t_hi: i64, lo: i64, hi: i64, runs: Vec<(i64, i64)>) -> Table {
        let mut cum = Vec::with_capacity(runs.len() + 1);
        let mut shifted = Vec::with_capacity(runs.len());
        let mut total = 0;
        for &(a, b) in &runs {
            cum.push(total);
            shifted.push(a - total);
            total += b - a;
        }
        cum.push(total);
        let mut table = Table {
            t_lo,
            t_hi,
            lo,
            hi,
            runs,
            cum,
            shifted,
            zero: 0,
        };
        table.zero = table.excluded_before(0.clamp(lo, hi));
        table
    }

    fn is_empty(&self) -> bool {
        self.t_lo == self.t_hi
    }

    /// Does the table answer for base indices `[lo, hi)`? A table reaching the ends of
    /// supported time answers for everything beyond them too (there are no ticks there), so
    /// asking past them never rebuilds it.
    fn covers(&self, lo: i64, hi: i64) -> bool {
        !self.is_empty()
            && (self.lo <= lo || self.t_lo <= MIN_T)
            && (hi <= self.hi || self.t_hi >= MAX_T)
    }

    /// Excluded indices in `[lo, b)`.
    fn excluded_before(&self, b: i64) -> i64 {
        let k = self.runs.partition_point(|&(start, _)| start < b);
        if k == 0 {
            return 0;
        }
        let (start, end) = self.runs[k - 1];
        self.cum[k - 1] + (end.min(b) - start)
    }

    pub(crate) fn is_excluded(&self, b: i64) -> bool {
        let k = self.runs.partition_point(|&(start, _)| start <= b);
        k > 0 && b < self.runs[k - 1].1
    }

    /// The run holding `b`, if `b` is excluded.
    pub(crate) fn run_at(&self, b: i64) -> Option<(i64, i64)> {
        let k = self.runs.partition_point(|&(start, _)| start <= b);
        (k > 0 && b < self.runs[k - 1].1).then(|| self.runs[k - 1])
    }

    /// Partitions (non-excluded indices) in `[0, b)`, negative for `b < 0`: the partition
    /// index of a non-excluded base index, and for an excluded one the index of the next
    /// partition.
    pub(crate) fn position(&self, b: i64) -> i64 {
        b - (self.excluded_before(b) - self.zero)
    }

    /// The base index of partition `e`, if the table covers it.
    pub(crate) fn base_of(&self, e: i64) -> Option<i64> {
        let x = e - self.zero;
        if x < self.lo {
            return None;
        }
        let m = self.shifted.partition_point(|&s| s <= x);
        let b = x + self.cum[m];
        (b < self.hi).then_some(b)
    }

    pub(crate) fn covered(&self) -> (i64, i64) {
        (self.lo, self.hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_positions_invert() {
        let t = Table::new(0, 1, -10, 100, vec![(-5, -3), (0, 1), (2, 4), (50, 60)]);
        let mut e_expected = None;
        for b in -10..100 {
            if t.is_excluded(b) {
                assert!(t.run_at(b).is_some());
                continue;
            }
            let e = t.position(b);
            if let Some(prev) = e_expected {
                assert_eq!(e, prev, "positions are consecutive");
            }
            e_expected = Some(e + 1);
            assert_eq!(t.base_of(e), Some(b), "b={b} e={e}");
        }
        // Base 1 is the first partition at or after 0.
        assert_eq!(t.position(1), 0);
        assert_eq!(t.base_of(0), Some(1));
    }

    #[test]
    fn parses_each_kind_and_rejects_nonsense() {
        let e = Exclusions::parse(
            &["2024-12-25", "2024-12-24T13:30", "0 0 * * 6,0"],
            &Zone::utc(),
        )
        .unwrap();
        let e = e.unwrap();
        assert_eq!(e.dates.len(), 1);
        assert_eq!(e.datetimes.len(), 1);
        assert_eq!(e.crons.len(), 1);
        for bad in [
            "2024-02-30",
            "2024-13-01",
            "2024-01-01T25:00",
            "weekends",
            "2024-01-01x",
        ] {
            let err = Exclusions::parse(&[bad], &Zone::utc()).unwrap_err();
            assert!(err.to_string().contains(bad), "{err}");
        }
    }
}
