//! `trading_calendar`: partitions no other orchestrator has, on the seed's `daily_sales`.
//!
//! - `trading_sales`: one partition per trading day — daily, with weekends and the 2024
//!   exchange holidays excluded (a business calendar). Each reads that day's `daily_sales`
//!   (the default time-window mapping: the day's window).
//! - `weekly_trading_sales`: a weekly roll-up (weeks from Monday) of the trading days inside
//!   each week, however many there are (five, or four in a holiday week). It waits for all of
//!   them until a day after the week, then runs with those that exist (`wait_until`).
//! - `sales_by_region_product`: three dimensions (date × region × product), each partition one
//!   day's share of `daily_sales` for one region and product.
//! - `sales_by_account`: sparse — each account trades in its own regions only
//!   (`globex` in `apac` alone), so a day has six partitions, not the nine of the full
//!   product.

use serde::{Deserialize, Serialize};
use serde_json::json;
use tessera_sdk::prelude::*;

/// Weekends, and the NYSE holidays of 2024.
pub const CALENDAR: [&str; 11] = [
    "* * * * 6,0",
    "2024-01-01",
    "2024-01-15",
    "2024-02-19",
    "2024-03-29",
    "2024-05-27",
    "2024-06-19",
    "2024-07-04",
    "2024-09-02",
    "2024-11-28",
    "2024-12-25",
];

pub const REGIONS: [&str; 3] = ["americas", "apac", "emea"];
pub const PRODUCTS: [&str; 2] = ["hardware", "software"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailySales {
    pub date: String,
    pub sales: u64,
}

fn trading_sales(ctx: &Context, inputs: &Inputs) -> Result<Output, PluginError> {
    let date = ctx.partition_key()?;
    let day: DailySales = inputs.single_json("daily_sales")?;
    if day.date != date {
        return Err(PluginError::invalid_input(format!(
            "daily_sales is for {}, not the trading day {date}",
            day.date
        )));
    }
    Ok(Output::json(&json!({ "date": date, "sales": day.sales }))?.metadata("sales", day.sales))
}

fn weekly_trading_sales(ctx: &Context, inputs: &Inputs) -> Result<Output, PluginError> {
    let week = ctx.partition_key()?;
    let days: Vec<(String, DailySales)> = inputs.json("trading_sales")?;
    let total: u64 = days.iter().map(|(_, d)| d.sales).sum();
    let trading_days: Vec<&str> = days.iter().map(|(key, _)| key.as_str()).collect();
    Ok(Output::json(&json!({
        "week": week,
        "trading_days": trading_days,
        "sales": total,
    }))?
    .metadata("trading_days", trading_days.len() as u64)
    .metadata("sales", total))
}

fn sales_by_region_product(ctx: &Context, inputs: &Inputs) -> Result<Output, PluginError> {
    let date = ctx.dimension_key("date")?;
    let region = ctx.dimension_key("region")?;
    let product = ctx.dimension_key("product")?;
    let day: DailySales = inputs.single_json("daily_sales")?;
    let share = share_permille(region, product);
    let sales = day.sales * share / 1_000;
    Ok(Output::json(&json!({
        "date": date,
        "region": region,
        "product": product,
        "sales": sales,
    }))?
    .metadata("sales", sales))
}

/// The regions each account trades in: the combinations `sales_by_account` declares.
pub const ACCOUNT_REGIONS: [(&str, &[&str]); 3] = [
    ("acme", &["americas", "emea"]),
    ("globex", &["apac"]),
    ("initech", &["americas", "apac", "emea"]),
];

fn sales_by_account(ctx: &Context, inputs: &Inputs) -> Result<Output, PluginError> {
    let date = ctx.dimension_key("date")?;
    let account = ctx.dimension_key("account")?;
    let region = ctx.dimension_key("region")?;
    let day: DailySales = inputs.single_json("daily_sales")?;
    let per_region = ACCOUNT_REGIONS
        .iter()
        .find(|(a, _)| *a == account)
        .map_or(1, |(_, regions)| regions.len() as u64);
    // Each account takes a sixth of the day, split evenly over its regions.
    let sales = day.sales / 6 / per_region;
    Ok(Output::json(&json!({
        "date": date,
        "account": account,
        "region": region,
        "sales": sales,
    }))?
    .metadata("sales", sales))
}

/// The share of a day's sales one region and product make, per mille; the six shares add up
/// to 1000.
pub fn share_permille(region: &str, product: &str) -> u64 {
    let region_share = match region {
        "americas" => 450,
        "emea" => 350,
        _ => 200,
    };
    let product_share = if product == "hardware" { 400 } else { 600 };
    region_share * product_share / 1_000
}

tessera_sdk::plugin! {
    assets: [
        Asset::new("trading_sales", trading_sales)
            .partitions(Partitions::daily("2024-01-01").exclude(CALENDAR))
            .input("daily_sales")
            .description("Sales per trading day (weekends and 2024 exchange holidays excluded).")
            .code_version("1"),
        Asset::new("weekly_trading_sales", weekly_trading_sales)
            .partitions(Partitions::weekly("2024-01-01").day_offset(1))
            // A week waits for all its trading days, for a day after it ends at most: then it
            // runs with those that exist, and late ones re-open it.
            .input(AssetInput::new("trading_sales").rollup(Rollup::WaitUntil(86_400)))
            .description("Sales of each week's trading days, weeks from Monday.")
            .code_version("1"),
        Asset::new("sales_by_region_product", sales_by_region_product)
            .partitions(Partitions::multi([
                Dimension::new("date", Partitions::daily("2024-01-01")),
                Dimension::new("region", DimensionPartitions::static_keys(REGIONS)),
                Dimension::new("product", DimensionPartitions::static_keys(PRODUCTS)),
            ]))
            .input_mapped("daily_sales", Mapping::multi_to_single_dimension("date"))
            .description("One day's sales for one region and product (three dimensions).")
            .code_version("1"),
        Asset::new("sales_by_account", sales_by_account)
            .partitions(Partitions::sparse(
                [
                    Dimension::new("date", Partitions::daily("2024-01-01")),
                    Dimension::new(
                        "account",
                        DimensionPartitions::static_keys(ACCOUNT_REGIONS.map(|(a, _)| a)),
                    ),
                    Dimension::new("region", DimensionPartitions::static_keys(REGIONS)),
                ],
                Combinations::per_key("account", "region", ACCOUNT_REGIONS.map(|(a, r)| (a, r.iter().copied()))),
            ))
            .input_mapped("daily_sales", Mapping::multi_to_single_dimension("date"))
            .description("One day's sales for one account in one of its regions (sparse: each account's regions only).")
            .code_version("1"),
    ],
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use tessera_sdk::testing;

    use super::*;

    fn day(date: &str, sales: u64) -> Vec<u8> {
        serde_json::to_vec(&json!({ "date": date, "sales": sales })).unwrap()
    }

    #[test]
    fn a_week_sums_its_trading_days() {
        let plugin = plugin();
        let run = testing::materialize(&plugin, "weekly_trading_sales")
            .partition("2024-01-15")
            .input("trading_sales", "2024-01-16", day("2024-01-16", 10))
            .input("trading_sales", "2024-01-17", day("2024-01-17", 20))
            .now("2024-02-01T00:00:00Z")
            .run()
            .unwrap();
        let out: Value = run.json("weekly_trading_sales").unwrap();
        assert_eq!(out["sales"], 30);
        assert_eq!(out["trading_days"], json!(["2024-01-16", "2024-01-17"]));
    }

    #[test]
    fn shares_add_up() {
        let total: u64 = REGIONS
            .iter()
            .flat_map(|r| PRODUCTS.iter().map(move |p| share_permille(r, p)))
            .sum();
        assert_eq!(total, 1_000);
    }

    #[test]
    fn only_each_accounts_regions_exist() {
        let plugin = plugin();
        let run = testing::materialize(&plugin, "sales_by_account")
            .partition("globex|2024-01-15|apac")
            .input("daily_sales", "2024-01-15", day("2024-01-15", 600))
            .now("2024-02-01T00:00:00Z")
            .run()
            .unwrap();
        let out: Value = run.json("sales_by_account").unwrap();
        assert_eq!(out["sales"], 100);
        let err = testing::materialize(&plugin, "sales_by_account")
            .partition("globex|2024-01-15|emea")
            .input("daily_sales", "2024-01-15", day("2024-01-15", 600))
            .now("2024-02-01T00:00:00Z")
            .run()
            .unwrap_err();
        assert!(err.to_string().contains("globex|2024-01-15|emea"), "{err}");
    }

    #[test]
    fn the_calendar_is_declared() {
        let plugin = plugin();
        let defs = plugin.wit_definitions();
        let json = format!("{defs:?}");
        assert!(
            json.contains("2024-12-25") && json.contains("* * * * 6,0"),
            "{json}"
        );
    }
}
