//! `customer_metrics` and `customer_sensor`: the seed's dynamic-partitions pattern.
//!
//! `customer_metrics` is partitioned by the dynamic set `customers`. `customer_sensor` adds
//! customers to the set and requests a run for each new one. It finds customers as the file
//! names in the directory granted at `/data/customers` (`acme.json` is customer `acme`), or,
//! without that grant, in a built-in list, so the example works with no setup.

use std::collections::BTreeSet;

use serde_json::json;
use tessera_sdk::prelude::*;

/// The dynamic partitions set.
pub const CUSTOMERS: &str = "customers";
/// Where the sensor looks for customers.
pub const CUSTOMERS_DIR: &str = "/data/customers";
/// The customers the sensor adds when `/data/customers` is not granted.
pub const BUILT_IN: [&str; 3] = ["acme", "globex", "initech"];

fn customer_metrics(ctx: &Context, _: &Inputs) -> Result<Output, PluginError> {
    let customer = ctx.partition_key()?;
    let orders = fnv1a(&format!("orders:{customer}")) % 50;
    let lifetime_value_cents = orders * (2_000 + fnv1a(&format!("value:{customer}")) % 8_000);
    Ok(Output::json(&json!({
        "customer": customer,
        "orders": orders,
        "lifetime_value_cents": lifetime_value_cents,
    }))?
    .metadata("orders", orders))
}

fn customer_sensor(_ctx: &SensorContext) -> Result<SensorResult, PluginError> {
    let found = discover()?;
    let known: BTreeSet<String> = dynamic_partition_keys(CUSTOMERS).into_iter().collect();
    let new: Vec<String> = found.into_iter().filter(|c| !known.contains(c)).collect();
    if new.is_empty() {
        return Ok(SensorResult::skip(format!(
            "no new customers ({} known)",
            known.len()
        )));
    }
    tessera_sdk::info!("adding customers {new:?}");
    let requests = new.iter().map(|c| {
        RunRequest::new()
            .asset("customer_metrics")
            .partition(c.clone())
            .run_key(format!("customer_{c}"))
    });
    Ok(SensorResult::new()
        .add_dynamic_partitions(CUSTOMERS, new.iter().cloned())
        .run_requests(requests))
}

/// Customer ids, sorted: file stems in `/data/customers`, or the built-in list.
fn discover() -> Result<Vec<String>, PluginError> {
    let dir = granted_path(CUSTOMERS_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(_) => return Ok(BUILT_IN.iter().map(|c| (*c).to_string()).collect()),
    };
    let mut ids = BTreeSet::new();
    for entry in entries {
        let path = entry?.path();
        let id = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        // Keys must be usable as partition keys: no hidden files, no range syntax.
        if !id.is_empty() && !id.starts_with('.') && !id.contains("...") && path.is_file() {
            ids.insert(id.to_string());
        }
    }
    Ok(ids.into_iter().collect())
}

/// FNV-1a: stable across platforms and releases.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

tessera_sdk::plugin! {
    assets: [
        Asset::new("customer_metrics", customer_metrics)
            .partitions(Partitions::dynamic(CUSTOMERS))
            .description("Orders and lifetime value per customer."),
    ],
    sensors: [
        Sensor::new("customer_sensor", customer_sensor)
            .description("Adds new customers to the `customers` partitions and runs their metrics.")
            .minimum_interval(60)
            .targets(["customer_metrics"]),
    ],
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use tessera_sdk::testing;

    use super::*;

    #[test]
    fn metrics_per_customer() {
        let plugin = plugin();
        let run = testing::materialize(&plugin, "customer_metrics")
            .dynamic_partitions(CUSTOMERS, ["acme", "globex"])
            .partition("globex")
            .run()
            .unwrap();
        let out: Value = run.json("customer_metrics").unwrap();
        assert_eq!(out["customer"], json!("globex"));
        let orders = out["orders"].as_u64().unwrap();
        assert!(orders < 50);
        // A customer not in the set is not a partition.
        assert!(
            testing::materialize(&plugin, "customer_metrics")
                .dynamic_partitions(CUSTOMERS, ["acme"])
                .partition("globex")
                .run()
                .is_err()
        );
    }

    #[test]
    fn sensor_adds_built_in_customers_once() {
        let plugin = plugin();
        let first = testing::evaluate_sensor(&plugin, "customer_sensor")
            .grant(CUSTOMERS_DIR, "/nonexistent/tessera-customers")
            .dynamic_partitions(CUSTOMERS, ["acme"])
            .run()
            .unwrap()
            .result;
        assert_eq!(first.dynamic_partitions[0].name, CUSTOMERS);
        assert_eq!(first.dynamic_partitions[0].add, ["globex", "initech"]);
        let keys: Vec<&str> = first
            .run_requests
            .iter()
            .map(|r| r.run_key.as_deref().unwrap())
            .collect();
        assert_eq!(keys, ["customer_globex", "customer_initech"]);

        let again = testing::evaluate_sensor(&plugin, "customer_sensor")
            .grant(CUSTOMERS_DIR, "/nonexistent/tessera-customers")
            .dynamic_partitions(CUSTOMERS, BUILT_IN)
            .run()
            .unwrap()
            .result;
        assert_eq!(
            again.skip_reason.as_deref(),
            Some("no new customers (3 known)")
        );
        assert!(again.run_requests.is_empty());
    }

    #[test]
    fn sensor_reads_the_granted_directory() {
        let dir = std::env::temp_dir().join(format!("tessera-customers-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["wayne.json", "stark.csv", ".hidden"] {
            std::fs::write(dir.join(name), b"{}").unwrap();
        }
        let result = testing::evaluate_sensor(&plugin(), "customer_sensor")
            .grant(CUSTOMERS_DIR, &dir)
            .run();
        std::fs::remove_dir_all(&dir).unwrap();
        let result = result.unwrap().result;
        assert_eq!(result.dynamic_partitions[0].add, ["stark", "wayne"]);
        assert_eq!(result.run_requests.len(), 2);
        assert_eq!(result.run_requests[0].assets, ["customer_metrics"]);
    }
}
