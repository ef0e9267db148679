//! A Tessera plugin in Rust: `tessera plugin new NAME --lang rust` makes a crate of this file,
//! `tessera plugin build` makes it a component (`cargo build --target wasm32-wasip2`), and
//! `tessera plugin test` runs its tests natively through the SDK's test harness.

use tessera_sdk::prelude::*;

/// One daily partition: a line of text naming its day.
fn hello(ctx: &Context, _inputs: &Inputs) -> Result<Output, PluginError> {
    let day = ctx.partition_key()?;
    tessera_sdk::info!("greeted {day}");
    Ok(Output::text(format!("hello, {day}\n")).metadata("day", day))
}

/// The week up to a day: reads seven upstream days through a time-window mapping.
fn hello_week(_ctx: &Context, inputs: &Inputs) -> Result<Output, PluginError> {
    let days = inputs.get("hello")?;
    let text: Vec<u8> = days.iter().flat_map(|p| p.data.iter().copied()).collect();
    Ok(Output::bytes(text).metadata("days", days.len()))
}

tessera_sdk::plugin! {
    assets: [
        Asset::new("hello", hello)
            .partitions(Partitions::daily("2024-01-01"))
            .description("A greeting per day.")
            .code_version("1"),
        Asset::new("hello_week", hello_week)
            .partitions(Partitions::daily("2024-01-01"))
            .input_mapped(
                "hello",
                Mapping::time_window(-6, 0).allow_nonexistent_upstream_partitions(true),
            ),
    ],
}

#[cfg(test)]
mod tests {
    use tessera_sdk::testing;

    use super::*;

    #[test]
    fn greets_its_day() {
        let plugin = plugin();
        let run = testing::materialize(&plugin, "hello")
            .partition("2024-01-03")
            .now("2024-02-01T00:00:00Z")
            .run()
            .unwrap();
        assert_eq!(run.output("hello").unwrap().data(), b"hello, 2024-01-03\n");
    }

    #[test]
    fn the_week_joins_its_days() {
        let plugin = plugin();
        let run = testing::materialize(&plugin, "hello_week")
            .partition("2024-01-03")
            .now("2024-02-01T00:00:00Z")
            .input("hello", "2024-01-02", "a\n")
            .input("hello", "2024-01-03", "b\n")
            .run()
            .unwrap();
        assert_eq!(run.output("hello_week").unwrap().data(), b"a\nb\n");
    }
}
