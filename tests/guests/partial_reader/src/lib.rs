//! Two assets, only one of which reads another plugin's: `reads_sales` reads `daily_sales`
//! (the `daily_sales` example plugin), `own` reads nothing. Without `daily_sales` loaded,
//! `own` must stay usable and only `reads_sales` (and what reads it) be unavailable.

use tessera_sdk::prelude::*;

fn echo(ctx: &Context, _inputs: &Inputs) -> Result<Output, PluginError> {
    Ok(Output::bytes(ctx.partition_keys().join(",").into_bytes()))
}

tessera_sdk::plugin! {
    assets: [
        Asset::new("own", echo).partitions(Partitions::daily("2024-01-01")),
        Asset::new("reads_sales", echo)
            .partitions(Partitions::daily("2024-01-01"))
            .input("daily_sales"),
        Asset::new("after_sales", echo)
            .partitions(Partitions::daily("2024-01-01"))
            .input("reads_sales"),
    ],
}
