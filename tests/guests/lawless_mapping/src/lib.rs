//! Partition mappings that break the laws every mapping keeps, which the host must refuse with
//! this plugin named: `phantom` answers a key the downstream definition does not have;
//! `shifted` maps a month to the days of the next month, so mapping its answer back does not
//! give the month asked about. `monthly` is a sound mapping beside them. The check `chatty`
//! answers for a partition it was not given.

use tessera_sdk::prelude::*;

fn value(ctx: &Context, _: &Inputs) -> Result<Output, PluginError> {
    Ok(Output::text(ctx.partition_key()?.to_string()))
}

const MONTHS: [(&str, &str, &str); 4] = [
    ("2024-01", "2024-01-01", "2024-01-31"),
    ("2024-02", "2024-02-01", "2024-02-29"),
    ("2024-03", "2024-03-01", "2024-03-31"),
    ("2024-04", "2024-04-01", "2024-04-30"),
];

fn days_of(month: &str, shift: usize) -> Result<(String, String), PluginError> {
    let i = MONTHS
        .iter()
        .position(|(m, _, _)| *m == month)
        .ok_or_else(|| PluginError::invalid_input(format!("no month {month:?}")))?;
    let (_, first, last) = MONTHS[(i + shift).min(MONTHS.len() - 1)];
    Ok((first.to_string(), last.to_string()))
}

fn months_of(r: &MapRequest) -> Result<Vec<(String, String)>, PluginError> {
    Ok(r.ranges
        .iter()
        .map(|(a, b)| (a[..7].to_string(), b[..7].to_string()))
        .collect())
}

fn days_of_months(r: &MapRequest) -> Result<Vec<(String, String)>, PluginError> {
    r.ranges
        .iter()
        .map(|(a, b)| Ok((days_of(a, 0)?.0, days_of(b, 0)?.1)))
        .collect()
}

fn days_of_next_months(r: &MapRequest) -> Result<Vec<(String, String)>, PluginError> {
    r.ranges
        .iter()
        .map(|(a, b)| Ok((days_of(a, 1)?.0, days_of(b, 1)?.1)))
        .collect()
}

fn phantom_months(_: &MapRequest) -> Result<Vec<(String, String)>, PluginError> {
    Ok(vec![("2099-13".to_string(), "2099-13".to_string())])
}

fn months() -> Partitions {
    Partitions::static_keys(MONTHS.map(|(m, _, _)| m))
}

/// Answers for a partition it was not given.
fn chatty(_: &CheckContext, values: &[(String, Vec<u8>)]) -> Result<Vec<CheckResult>, PluginError> {
    let mut out: Vec<CheckResult> = values.iter().map(|(k, _)| CheckResult::pass(k)).collect();
    out.push(CheckResult::pass("1999-01-01"));
    Ok(out)
}

tessera_sdk::plugin! {
    assets: [
        Asset::new("days", value).partitions(Partitions::daily("2024-01-01").end("2024-04-01")),
        Asset::new("sound_months", value)
            .partitions(months())
            .input_mapped("days", Mapping::plugin("monthly")),
        Asset::new("phantom_months", value)
            .partitions(months())
            .input_mapped("days", Mapping::plugin("phantom")),
        Asset::new("shifted_months", value)
            .partitions(months())
            .input_mapped("days", Mapping::plugin("shifted")),
    ],
    mappings: [
        Mapper::new("monthly", days_of_months, months_of),
        Mapper::new("phantom", days_of_months, phantom_months),
        Mapper::new("shifted", days_of_next_months, months_of),
    ],
    checks: [Check::new("chatty", "days", chatty)],
}
