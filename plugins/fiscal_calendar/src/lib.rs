//! `fiscal_calendar`: a partition mapping written as code, which no built-in mapping (and no
//! other orchestrator) can express: a retail 4-4-5 calendar.
//!
//! - Fiscal year `N` starts on the Monday nearest to 1 January of `N` (so it has 52 or 53
//!   weeks). Its twelve fiscal months ("periods") have 4, 4 and 5 weeks in each quarter; a
//!   53rd week goes to the last period, as the retail (NRF) calendar does.
//! - `fiscal_445` maps days (`%Y-%m-%d`) to periods (`FY2024-P01`) and back. The host calls it
//!   with runs of keys: ten years of days is one run in and about 120 runs out.
//! - `fiscal_month_sales` has one partition per period of FY2024–FY2030 and sums the days of
//!   its period from the seed's `daily_sales`; its check `complete_period` warns when a month
//!   summed fewer days than its period has.

use serde::Deserialize;
use serde_json::json;
use tessera_sdk::prelude::*;
use tessera_sdk::time::civil_from_days;

/// The fiscal years `fiscal_month_sales` has partitions for; the mapping answers within them.
pub const FIRST_YEAR: i64 = 2024;
pub const LAST_YEAR: i64 = 2030;

/// Weeks per period: 4-4-5 in each quarter.
const WEEKS: [i64; 12] = [4, 4, 5, 4, 4, 5, 4, 4, 5, 4, 4, 5];

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The first day of fiscal year `year`: the Monday nearest to 1 January.
pub fn year_start(year: i64) -> i64 {
    let jan1 = days_from_civil(year, 1, 1);
    // 1970-01-01 was a Thursday: weekday 0 = Monday.
    let weekday = (jan1 + 3).rem_euclid(7);
    if weekday <= 3 {
        jan1 - weekday
    } else {
        jan1 + 7 - weekday
    }
}

/// The first day of period `p` (1–12) of `year`, and the first day after it.
pub fn period_days(year: i64, p: usize) -> (i64, i64) {
    let start = year_start(year) + 7 * WEEKS[..p - 1].iter().sum::<i64>();
    let end = if p == 12 {
        year_start(year + 1)
    } else {
        start + 7 * WEEKS[p - 1]
    };
    (start, end)
}

/// The period holding a day.
pub fn period_of(day: i64) -> (i64, usize) {
    let (y, _, _) = civil_from_days(day);
    let mut year = y + 1;
    while year_start(year) > day {
        year -= 1;
    }
    let mut p = 1;
    while p < 12 && period_days(year, p).1 <= day {
        p += 1;
    }
    (year, p)
}

pub fn period_key(year: i64, p: usize) -> String {
    format!("FY{year}-P{p:02}")
}

fn day_key(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

fn parse_day(key: &str) -> Result<i64, PluginError> {
    let bad = || PluginError::invalid_input(format!("{key:?} is not a day (YYYY-MM-DD)"));
    let mut parts = key.splitn(3, '-');
    let mut next = || {
        parts
            .next()
            .and_then(|p| p.parse::<i64>().ok())
            .ok_or_else(bad)
    };
    let (y, m, d) = (next()?, next()?, next()?);
    let (m, d) = (
        u32::try_from(m).map_err(|_| bad())?,
        u32::try_from(d).map_err(|_| bad())?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    Ok(days_from_civil(y, m, d))
}

fn parse_period(key: &str) -> Result<(i64, usize), PluginError> {
    let bad = || PluginError::invalid_input(format!("{key:?} is not a fiscal period (FY2024-P01)"));
    let rest = key.strip_prefix("FY").ok_or_else(bad)?;
    let (year, p) = rest.split_once("-P").ok_or_else(bad)?;
    let year: i64 = year.parse().map_err(|_| bad())?;
    let p: usize = p.parse().map_err(|_| bad())?;
    if !(1..=12).contains(&p) {
        return Err(bad());
    }
    Ok((year, p))
}

/// Periods → the days in them (downstream fiscal months read upstream days).
fn days_of_periods(r: &MapRequest) -> Result<Vec<(String, String)>, PluginError> {
    r.ranges
        .iter()
        .map(|(first, last)| {
            let (fy, fp) = parse_period(first)?;
            let (ly, lp) = parse_period(last)?;
            Ok((
                day_key(period_days(fy, fp).0),
                day_key(period_days(ly, lp).1 - 1),
            ))
        })
        .collect()
}

/// Days → the periods holding them, within the years that have partitions.
fn periods_of_days(r: &MapRequest) -> Result<Vec<(String, String)>, PluginError> {
    let (lo, hi) = (year_start(FIRST_YEAR), year_start(LAST_YEAR + 1) - 1);
    let mut out = Vec::new();
    for (first, last) in &r.ranges {
        let (a, b) = (parse_day(first)?.max(lo), parse_day(last)?.min(hi));
        if a > b {
            continue;
        }
        let (fy, fp) = period_of(a);
        let (ly, lp) = period_of(b);
        out.push((period_key(fy, fp), period_key(ly, lp)));
    }
    Ok(out)
}

#[derive(Debug, Deserialize)]
struct DailySales {
    sales: u64,
}

fn fiscal_month_sales(ctx: &Context, inputs: &Inputs) -> Result<Output, PluginError> {
    let period = ctx.partition_key()?;
    let days: Vec<(String, DailySales)> = inputs.json("daily_sales")?;
    let total: u64 = days.iter().map(|(_, d)| d.sales).sum();
    Ok(Output::json(&json!({
        "period": period,
        "days": days.len(),
        "first_day": days.first().map(|(k, _)| k),
        "last_day": days.last().map(|(k, _)| k),
        "sales": total,
    }))?
    .metadata("days", days.len() as u64)
    .metadata("sales", total))
}

/// A fiscal month is complete when it summed every day of its period; one that ran without
/// some (late data) gets a warning.
fn complete_period(
    _: &CheckContext,
    values: &[(String, Vec<u8>)],
) -> Result<Vec<CheckResult>, PluginError> {
    values
        .iter()
        .map(|(key, data)| {
            let (year, p) = parse_period(key)?;
            let (a, b) = period_days(year, p);
            let value: serde_json::Value = serde_json::from_slice(data)
                .map_err(|e| PluginError::invalid_input(format!("{key}: not JSON: {e}")))?;
            let days = value["days"].as_i64().unwrap_or(0);
            Ok(if days == b - a {
                CheckResult::pass(key).metadata("days", days)
            } else {
                CheckResult::warn(key, format!("{days} of {} days summed", b - a))
                    .metadata("days", days)
            })
        })
        .collect()
}

/// Every period of the fiscal years with partitions, in order.
pub fn periods() -> Vec<String> {
    (FIRST_YEAR..=LAST_YEAR)
        .flat_map(|y| (1..=12).map(move |p| period_key(y, p)))
        .collect()
}

tessera_sdk::plugin! {
    assets: [
        Asset::new("fiscal_month_sales", fiscal_month_sales)
            .partitions(Partitions::static_keys(periods()))
            .input_mapped("daily_sales", Mapping::plugin("fiscal_445"))
            .description("Sales of each 4-4-5 fiscal month (FY2024–FY2030), summed from its days.")
            .code_version("1"),
    ],
    mappings: [
        Mapper::new("fiscal_445", days_of_periods, periods_of_days)
            .description("Days to 4-4-5 fiscal months (FY2024-P01) and back."),
    ],
    checks: [
        Check::new("complete_period", "fiscal_month_sales", complete_period)
            .description("Every day of the fiscal month was summed."),
    ],
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_sdk::Direction;

    fn ask(direction: Direction, ranges: &[(&str, &str)]) -> Vec<(String, String)> {
        let request = MapRequest {
            mapping: "fiscal_445".into(),
            direction,
            upstream_asset: "daily_sales".into(),
            downstream_asset: "fiscal_month_sales".into(),
            ranges: ranges
                .iter()
                .map(|(a, b)| ((*a).to_string(), (*b).to_string()))
                .collect(),
        };
        plugin().mappers()[0].map(&request).unwrap()
    }

    #[test]
    fn years_start_on_the_monday_nearest_new_year() {
        assert_eq!(day_key(year_start(2024)), "2024-01-01");
        assert_eq!(day_key(year_start(2025)), "2024-12-30");
        assert_eq!(day_key(year_start(2026)), "2025-12-29");
        // 2027 starts on Monday 2027-01-04 (1 January is a Friday).
        assert_eq!(day_key(year_start(2027)), "2027-01-04");
        // FY2026 therefore has 53 weeks, the last in its twelfth period.
        assert_eq!(year_start(2027) - year_start(2026), 371);
        let (a, b) = period_days(2026, 12);
        assert_eq!(b - a, 42);
    }

    #[test]
    fn periods_are_four_four_five_weeks() {
        let lengths: Vec<i64> = (1..=12)
            .map(|p| {
                let (a, b) = period_days(2024, p);
                (b - a) / 7
            })
            .collect();
        assert_eq!(lengths, [4, 4, 5, 4, 4, 5, 4, 4, 5, 4, 4, 5]);
        assert_eq!(
            ask(Direction::ToUpstream, &[("FY2024-P01", "FY2024-P03")]),
            [("2024-01-01".to_string(), "2024-03-31".to_string())]
        );
    }

    #[test]
    fn every_day_maps_to_the_period_whose_days_hold_it() {
        for day in year_start(FIRST_YEAR)..year_start(LAST_YEAR + 1) {
            let (y, p) = period_of(day);
            let (a, b) = period_days(y, p);
            assert!(a <= day && day < b, "{}", day_key(day));
        }
        // Days before the first fiscal year map to nothing.
        assert!(ask(Direction::ToDownstream, &[("2023-06-01", "2023-12-31")]).is_empty());
        assert_eq!(
            ask(Direction::ToDownstream, &[("2023-06-01", "2024-02-01")]),
            [("FY2024-P01".to_string(), "FY2024-P02".to_string())]
        );
    }

    #[test]
    fn an_incomplete_month_gets_a_warning() {
        let cx = CheckContext {
            check: "complete_period".into(),
            asset: "fiscal_month_sales".into(),
            now: 0,
        };
        let value = |days: i64| serde_json::to_vec(&json!({ "days": days })).unwrap();
        let results = plugin().checks()[0]
            .evaluate(
                &cx,
                &[
                    ("FY2024-P01".into(), value(28)),
                    ("FY2024-P03".into(), value(30)),
                ],
            )
            .unwrap();
        assert_eq!(results[0].outcome, tessera_sdk::CheckOutcome::Pass);
        assert_eq!(results[1].outcome, tessera_sdk::CheckOutcome::Warn);
        assert_eq!(
            results[1].description.as_deref(),
            Some("30 of 35 days summed")
        );
    }

    #[test]
    fn a_period_sums_its_days() {
        let day = |d: &str, s: u64| serde_json::to_vec(&json!({ "date": d, "sales": s })).unwrap();
        let run = tessera_sdk::testing::materialize(&plugin(), "fiscal_month_sales")
            .partition("FY2024-P01")
            .input("daily_sales", "2024-01-01", day("2024-01-01", 5))
            .input("daily_sales", "2024-01-28", day("2024-01-28", 7))
            .now("2024-03-01T00:00:00Z")
            .run()
            .unwrap();
        let out: serde_json::Value = run.json("fiscal_month_sales").unwrap();
        assert_eq!(out["sales"], 12);
        assert_eq!(out["last_day"], "2024-01-28");
    }
}
