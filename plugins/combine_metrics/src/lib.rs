//! `combine_metrics`: the seed's multi-asset pattern. One computation reads `user_events` and
//! `sales_data` (same day, `Mapping::time_window(0, 0)`) and produces two assets,
//! `combined_metrics` and `daily_summary`. The two inputs are small daily assets of this
//! plugin, so the example is self-contained.

use serde::{Deserialize, Serialize};
use serde_json::json;
use tessera_sdk::prelude::*;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserEvents {
    pub date: String,
    pub active_users: u64,
    pub sessions: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesData {
    pub date: String,
    pub orders: u64,
    pub revenue_cents: u64,
}

fn user_events(ctx: &Context, _: &Inputs) -> Result<Output, PluginError> {
    let date = ctx.partition_key()?;
    let active_users = 100 + fnv1a(&format!("users:{date}")) % 900;
    let sessions = active_users + fnv1a(&format!("sessions:{date}")) % 1_000;
    Output::json(&UserEvents {
        date: date.to_string(),
        active_users,
        sessions,
    })
}

fn sales_data(ctx: &Context, _: &Inputs) -> Result<Output, PluginError> {
    let date = ctx.partition_key()?;
    let orders = 10 + fnv1a(&format!("orders:{date}")) % 90;
    let revenue_cents = orders * (1_000 + fnv1a(&format!("basket:{date}")) % 9_000);
    Output::json(&SalesData {
        date: date.to_string(),
        orders,
        revenue_cents,
    })
}

/// Both outputs from the same inputs: the seed's `return combined, summary`.
fn combine_metrics(ctx: &Context, inputs: &Inputs) -> Result<Outputs, PluginError> {
    let date = ctx.partition_key()?;
    let users: UserEvents = inputs.single_json("user_events")?;
    let sales: SalesData = inputs.single_json("sales_data")?;
    if users.date != date || sales.date != date {
        return Err(PluginError::invalid_input(format!(
            "inputs are for {} and {}, not {date}",
            users.date, sales.date
        )));
    }
    // Per mille, in integers: the same on every platform.
    let conversion_permille = sales.orders * 1_000 / users.active_users.max(1);
    let revenue_per_user_cents = sales.revenue_cents / users.active_users.max(1);
    let combined = json!({
        "date": date,
        "active_users": users.active_users,
        "sessions": users.sessions,
        "orders": sales.orders,
        "revenue_cents": sales.revenue_cents,
        "conversion_permille": conversion_permille,
        "revenue_per_user_cents": revenue_per_user_cents,
    });
    let summary = format!(
        "{date}: {} users, {} orders, {}.{:02} revenue",
        users.active_users,
        sales.orders,
        sales.revenue_cents / 100,
        sales.revenue_cents % 100
    );
    let mut outputs = Outputs::new();
    if ctx.is_requested("combined_metrics") {
        outputs.push(
            "combined_metrics",
            Output::json(&combined)?.metadata("orders", sales.orders),
        );
    }
    if ctx.is_requested("daily_summary") {
        outputs.push(
            "daily_summary",
            Output::json(&json!({ "date": date, "summary": summary }))?,
        );
    }
    Ok(outputs)
}

/// FNV-1a: stable across platforms and releases.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

tessera_sdk::plugin! {
    assets: [
        Asset::new("user_events", user_events)
            .partitions(Partitions::daily("2024-01-01"))
            .description("Active users and sessions per day."),
        Asset::new("sales_data", sales_data)
            .partitions(Partitions::daily("2024-01-01"))
            .description("Orders and revenue per day."),
        Computation::new("combine_metrics", combine_metrics)
            .partitions(Partitions::daily("2024-01-01"))
            .input_mapped("user_events", Mapping::time_window(0, 0))
            .input_mapped("sales_data", Mapping::time_window(0, 0))
            .asset(AssetSpec::new("combined_metrics").description("Users and sales of the day, joined."))
            .asset(AssetSpec::new("daily_summary").description("One sentence per day.")),
    ],
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use tessera_sdk::testing;

    use super::*;

    const NOW: &str = "2024-02-01T00:00:00Z";

    fn produce(plugin: &Plugin, asset: &str, key: &str) -> Vec<u8> {
        let run = testing::materialize(plugin, asset)
            .partition(key)
            .now(NOW)
            .run()
            .unwrap();
        run.output(asset).unwrap().data().to_vec()
    }

    #[test]
    fn two_outputs_from_two_inputs() {
        let plugin = plugin();
        let key = "2024-01-20";
        let users: UserEvents =
            serde_json::from_slice(&produce(&plugin, "user_events", key)).unwrap();
        let sales: SalesData =
            serde_json::from_slice(&produce(&plugin, "sales_data", key)).unwrap();
        let run = testing::materialize(&plugin, "combine_metrics")
            .partition(key)
            .now(NOW)
            .input_json("user_events", key, &users)
            .input_json("sales_data", key, &sales)
            .run()
            .unwrap();
        assert_eq!(run.outputs.len(), 2);
        let combined: Value = run.json("combined_metrics").unwrap();
        assert_eq!(combined["orders"], json!(sales.orders));
        assert_eq!(combined["active_users"], json!(users.active_users));
        assert_eq!(
            combined["conversion_permille"],
            json!(sales.orders * 1000 / users.active_users)
        );
        let summary: Value = run.json("daily_summary").unwrap();
        let text = summary["summary"].as_str().unwrap();
        assert!(text.starts_with("2024-01-20: "), "{text}");
        assert!(text.contains(&format!("{} orders", sales.orders)));
    }

    #[test]
    fn one_asset_of_the_two() {
        let plugin = plugin();
        let key = "2024-01-21";
        let run = testing::materialize(&plugin, "daily_summary")
            .partition(key)
            .now(NOW)
            .input("user_events", key, produce(&plugin, "user_events", key))
            .input("sales_data", key, produce(&plugin, "sales_data", key))
            .run()
            .unwrap();
        assert_eq!(run.outputs.len(), 1);
        assert!(run.output("daily_summary").is_some());
    }

    #[test]
    fn inputs_of_another_day_are_rejected() {
        let plugin = plugin();
        let err = testing::materialize(&plugin, "combine_metrics")
            .partition("2024-01-21")
            .now(NOW)
            .input(
                "user_events",
                "2024-01-21",
                produce(&plugin, "user_events", "2024-01-20"),
            )
            .input(
                "sales_data",
                "2024-01-21",
                produce(&plugin, "sales_data", "2024-01-21"),
            )
            .run()
            .unwrap_err();
        assert!(matches!(
            err,
            testing::HarnessError::Plugin(PluginError::InvalidInput(_))
        ));
    }

    #[test]
    fn definitions() {
        testing::check(&plugin()).unwrap();
        let defs = plugin().wit_definitions();
        let combine = &defs.computations[2];
        assert_eq!(combine.name, "combine_metrics");
        let keys: Vec<&str> = combine.assets.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(keys, ["combined_metrics", "daily_summary"]);
        for asset in &combine.assets {
            let inputs: Vec<&str> = asset.inputs.iter().map(|i| i.asset.as_str()).collect();
            assert_eq!(inputs, ["user_events", "sales_data"]);
        }
    }
}
