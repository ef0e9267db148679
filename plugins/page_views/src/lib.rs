//! `page_views`: page views per minute since 2005-01-01 (UTC) — about ten million partitions
//! by 2024, the size at which other orchestrators' UIs give up. A run over a range of
//! minutes returns one output per minute, `{"minute": <key>, "views": <number>}`, the number
//! a stable function of the minute.

use serde_json::json;
use tessera_sdk::prelude::*;

/// The views of each minute of the call.
fn page_views(ctx: &Context, _inputs: &Inputs) -> Result<Outputs, PluginError> {
    let keys = ctx.partition_keys();
    tessera_sdk::info!("page views for {} minutes", keys.len());
    keys.iter()
        .map(|minute| {
            let views = views_for(minute);
            Ok(Output::json(&json!({ "minute": minute, "views": views }))?
                .metadata("views", views)
                .for_partition(minute.clone()))
        })
        .collect()
}

/// Between 0 and 499, from the minute alone.
pub fn views_for(minute: &str) -> u64 {
    minute.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    }) % 500
}

tessera_sdk::plugin! {
    assets: [
        Asset::new("page_views", page_views)
            .partitions(Partitions::cron("* * * * *", "2005-01-01-00:00", "%Y-%m-%d-%H:%M"))
            .description("Page views per minute since 2005 (ten million partitions).")
            .backfill_policy(BackfillPolicy::MultiRun(1440))
            .code_version("1"),
    ],
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use tessera_sdk::testing;

    use super::*;

    #[test]
    fn a_range_of_minutes_gives_one_output_each() {
        let plugin = plugin();
        let run = testing::materialize(&plugin, "page_views")
            .partition_range("2024-01-01-00:00", "2024-01-01-00:09")
            .now("2024-02-01T00:00:00Z")
            .run()
            .unwrap();
        assert_eq!(run.outputs.len(), 10);
        let out: Value = run
            .outputs
            .get_partition("page_views", "2024-01-01-00:05")
            .unwrap()
            .parse_json()
            .unwrap();
        assert_eq!(out["views"], views_for("2024-01-01-00:05"));
    }
}
