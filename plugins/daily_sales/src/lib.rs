//! `daily_sales`: one asset, daily partitions from 2024-01-01 (UTC). Each partition is
//! `{"date": <key>, "sales": <number>}`, the number a stable function of the date.

use serde_json::json;
use tessera_sdk::prelude::*;

/// The sales of one day: the seed's `daily_sales`, loading nothing.
fn daily_sales(ctx: &Context, _inputs: &Inputs) -> Result<Output, PluginError> {
    let date = ctx.partition_key()?;
    let sales = sales_for(date);
    tessera_sdk::info!("sales for {date}: {sales}");
    Ok(Output::json(&json!({ "date": date, "sales": sales }))?.metadata("sales", sales))
}

/// Between 1000 and 9999, from the date alone.
pub fn sales_for(date: &str) -> u64 {
    1_000 + fnv1a(date) % 9_000
}

/// FNV-1a: stable across platforms and releases, unlike `std`'s hasher.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

tessera_sdk::plugin! {
    assets: [
        Asset::new("daily_sales", daily_sales)
            .partitions(Partitions::daily("2024-01-01"))
            .description("Sales per day: {\"date\": key, \"sales\": n}.")
            .code_version("1"),
    ],
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use tessera_sdk::testing;

    use super::*;

    #[test]
    fn one_partition() {
        // The seed's test_daily_sales: build a context for 2024-01-27 and run the asset.
        let plugin = plugin();
        let run = testing::materialize(&plugin, "daily_sales")
            .partition("2024-01-27")
            .now("2024-02-01T00:00:00Z")
            .run()
            .unwrap();
        let out: Value = run.json("daily_sales").unwrap();
        assert_eq!(
            out,
            json!({ "date": "2024-01-27", "sales": sales_for("2024-01-27") })
        );
        assert_eq!(sales_for("2024-01-27"), 6_209, "stable across builds");
        assert_eq!(
            run.output("daily_sales").unwrap().metadata_value("sales"),
            Some(&MetadataValue::Integer(6_209))
        );
        let w = run.context.time_window().unwrap();
        assert_eq!(w.start_rfc3339(), "2024-01-27T00:00:00+00:00");
        assert_eq!(w.duration_secs(), 86_400);
    }

    #[test]
    fn partitions_exist_from_the_start_and_once_complete() {
        let plugin = plugin();
        let at = |key: &str| {
            testing::materialize(&plugin, "daily_sales")
                .partition(key)
                .now("2024-01-10T12:00:00Z")
                .run()
        };
        assert!(at("2024-01-01").is_ok());
        assert!(at("2024-01-09").is_ok());
        assert!(at("2024-01-10").is_err(), "not over yet");
        assert!(at("2023-12-31").is_err(), "before the start");
    }

    #[test]
    fn definitions() {
        testing::check(&plugin()).unwrap();
        let defs = plugin().wit_definitions();
        assert_eq!(defs.computations[0].assets[0].key, "daily_sales");
        assert!(defs.sensors.is_empty());
    }
}
