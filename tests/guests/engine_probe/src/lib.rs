//! Assets and a sensor for the engine's tests and benchmarks: a trivial daily asset and a
//! chain reading it with `start_offset -1`, one that fails its first attempt, one that always
//! fails, a slow one, a slow one writing large values, one that never returns (with its own timeout), an eager one, and a
//! sensor that repeats its run key.

use tessera_sdk::prelude::*;

/// The partition key, or `first...last` for a range call.
fn label(ctx: &Context) -> String {
    match ctx.partition_keys() {
        [one] => one.clone(),
        [first, .., last] => format!("{first}...{last}"),
        [] => String::new(),
    }
}

/// Output: the partition; a range call gives each key its own output, `KEY in FIRST...LAST`,
/// so tests can check what went where and which call wrote it.
fn echo(ctx: &Context, _inputs: &Inputs) -> Result<Outputs, PluginError> {
    let call = label(ctx);
    Ok(match ctx.partition_keys() {
        [_, _, ..] => ctx
            .partition_keys()
            .iter()
            .map(|k| Output::text(format!("{k} in {call}")).for_partition(k))
            .collect(),
        _ => Output::text(call).into(),
    })
}

/// Output: the partition or range, one value for the whole call (a contract 0.1.0 plugin's
/// only way).
fn echo_whole(ctx: &Context, _inputs: &Inputs) -> Result<Output, PluginError> {
    Ok(Output::bytes(label(ctx).into_bytes()))
}

/// Lists the upstream keys it received from its first input, with the data of each, e.g.
/// `2024-01-02<-2024-01-01,2024-01-02` (`KEY=DATA` when the data is not the key).
fn chained(ctx: &Context, inputs: &Inputs) -> Result<Outputs, PluginError> {
    let received: Vec<String> = inputs
        .assets()
        .next()
        .and_then(|a| inputs.partitions(a))
        .unwrap_or_default()
        .iter()
        .map(|p| match std::str::from_utf8(&p.data) {
            Ok(text) if text == p.key => p.key.clone(),
            Ok(text) => format!("{}={text}", p.key),
            Err(_) => format!("{}=<{} bytes>", p.key, p.data.len()),
        })
        .collect();
    Ok(Output::text(format!("{}<-{}", label(ctx), received.join(","))).into())
}

fn flaky(ctx: &Context, inputs: &Inputs) -> Result<Outputs, PluginError> {
    if ctx.attempt() < 2 {
        return Err(PluginError::failed(format!(
            "attempt {} fails on purpose",
            ctx.attempt()
        )));
    }
    echo(ctx, inputs)
}

fn broken(_ctx: &Context, _inputs: &Inputs) -> Result<Output, PluginError> {
    Err(PluginError::failed("this asset always fails"))
}

/// Spins for a few milliseconds: long enough to kill a backfill in the middle.
fn slow(ctx: &Context, inputs: &Inputs) -> Result<Outputs, PluginError> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..3_000_000u64 {
        x = (x ^ i).wrapping_mul(0x0100_0000_01b3).rotate_left(5);
    }
    std::hint::black_box(x);
    echo(ctx, inputs)
}

/// Spins longer (a tenth of a second or so) and writes 24 KB naming the partition and the
/// attempt: too large for the database, so it goes to the IO store (the zombie-host test
/// checks no stale attempt overwrote a file).
fn big(ctx: &Context, _inputs: &Inputs) -> Result<Output, PluginError> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..100_000_000u64 {
        x = (x ^ i).wrapping_mul(0x0100_0000_01b3).rotate_left(5);
    }
    std::hint::black_box(x);
    let line = format!("{} attempt {}\n", label(ctx), ctx.attempt());
    Ok(Output::text(line.repeat(24 * 1024 / line.len() + 1)))
}

/// Never returns: only a timeout ends it.
fn hang(_ctx: &Context, _inputs: &Inputs) -> Result<Output, PluginError> {
    let mut x: u64 = 1;
    loop {
        x = std::hint::black_box(x.wrapping_mul(3));
    }
}

fn repeat_sensor(ctx: &SensorContext) -> Result<SensorResult, PluginError> {
    let n: u64 = ctx.cursor().and_then(|c| c.parse().ok()).unwrap_or(0) + 1;
    Ok(SensorResult::new()
        .run_request(
            RunRequest::new()
                .run_key("only-once")
                .asset("up")
                .partition("2024-01-01"),
        )
        .run_request(
            RunRequest::new()
                .run_key(format!("tick-{n}"))
                .asset("up")
                .partition("2024-01-02"),
        )
        .cursor(n.to_string()))
}

/// Fails the 3rd of each month (a bad load), warns on the 2nd, passes the rest.
fn not_the_third(
    _: &CheckContext,
    values: &[(String, Vec<u8>)],
) -> Result<Vec<CheckResult>, PluginError> {
    Ok(values
        .iter()
        .map(|(key, data)| match key.get(8..10) {
            Some("03") => {
                CheckResult::fail(key, "the 3rd is a bad load").metadata("bytes", data.len() as i64)
            }
            Some("02") => CheckResult::warn(key, "the 2nd is late"),
            _ => CheckResult::pass(key),
        })
        .collect())
}

tessera_sdk::plugin! {
    assets: [
        Asset::new("up", echo).partitions(Partitions::daily("2024-01-01")),
        Asset::new("down", chained)
            .partitions(Partitions::daily("2024-01-01"))
            .input_mapped(
                "up",
                Mapping::time_window(-1, 0).allow_nonexistent_upstream_partitions(true),
            ),
        Asset::new("eager_down", chained)
            .partitions(Partitions::daily("2024-01-01"))
            .input("up")
            .metadata("policy", "eager"),
        Asset::new("flaky", flaky).partitions(Partitions::daily("2024-01-01")),
        Asset::new("broken", broken).partitions(Partitions::daily("2024-01-01")),
        Asset::new("after_broken", chained)
            .partitions(Partitions::daily("2024-01-01"))
            .input("broken"),
        Asset::new("slow", slow).partitions(Partitions::daily("2024-01-01")),
        Asset::new("big", big).partitions(Partitions::daily("2024-01-01")),
        Asset::new("hang", hang)
            .partitions(Partitions::daily("2024-01-01"))
            .metadata("timeout_ms", 200i64),
        // Backfill policies: one partition per run (as metadata, the 0.1.0 way); runs of up
        // to 5 (the contract's field), each writing one value for its whole range, and an
        // asset reading that.
        Asset::new("one_by_one", echo)
            .partitions(Partitions::daily("2024-01-01"))
            .metadata("backfill_policy", "single_partition"),
        Asset::new("by_fives", echo_whole)
            .partitions(Partitions::daily("2024-01-01"))
            .backfill_policy(BackfillPolicy::MultiRun(5)),
        Asset::new("after_fives", chained)
            .partitions(Partitions::daily("2024-01-01"))
            .input("by_fives"),
        // Ten million partitions by 2029-01-07 (the status benchmark).
        Asset::new("minutely", echo).partitions(Partitions::cron(
            "* * * * *",
            "2010-01-01-00:00",
            "%Y-%m-%d-%H:%M",
        )),
        // A daily asset with a blocking check (the 3rd of each month fails) and one reading
        // the day before and the day.
        Asset::new("checked_up", echo).partitions(Partitions::daily("2024-01-01")),
        Asset::new("checked_down", chained)
            .partitions(Partitions::daily("2024-01-01"))
            .input_mapped(
                "checked_up",
                Mapping::time_window(-1, 0).allow_nonexistent_upstream_partitions(true),
            ),
        // Weekly roll-ups (weeks from Monday) of `up` under each roll-up policy; the partial
        // one is eager, so late days re-open it.
        Asset::new("week_all", chained)
            .partitions(Partitions::weekly("2024-01-01").day_offset(1))
            .input(AssetInput::new("up").rollup(Rollup::WaitAll)),
        Asset::new("week_until", chained)
            .partitions(Partitions::weekly("2024-01-01").day_offset(1))
            .input(AssetInput::new("up").rollup(Rollup::WaitUntil(365 * 86_400))),
        Asset::new("week_partial", chained)
            .partitions(Partitions::weekly("2024-01-01").day_offset(1))
            .input(AssetInput::new("up").rollup(Rollup::RunPartial))
            .metadata("policy", "eager"),
        // A million partitions that exist among twenty million combinations (the sparse
        // status benchmark): 1,000 days × each of 100 customers' 10 of 20 regions.
        Asset::new("sparse_sales", echo).partitions(Partitions::sparse(
            [
                Dimension::new("date", Partitions::daily("2026-01-01").end("2028-09-27")),
                Dimension::new(
                    "customer",
                    DimensionPartitions::static_keys((0..100).map(|c| format!("c{c:03}"))),
                ),
                Dimension::new(
                    "region",
                    DimensionPartitions::static_keys((0..20).map(|r| format!("r{r:02}"))),
                ),
            ],
            Combinations::listed(
                ["customer", "region"],
                (0..100).flat_map(|c| {
                    (0..10).map(move |k| [format!("c{c:03}"), format!("r{:02}", (c + 3 * k) % 20)])
                }),
            ),
        )),
        // Combinations held in a dynamic set, over a dynamic dimension (sensors and the CLI
        // add them; the engine checks each joins existing keys).
        Asset::new("customer_regions", echo).partitions(Partitions::sparse(
            [
                Dimension::new("customer", DimensionPartitions::dynamic("customers")),
                Dimension::new("region", DimensionPartitions::static_keys(["eu", "us"])),
                Dimension::new("date", Partitions::daily("2024-01-01")),
            ],
            Combinations::dynamic(["customer", "region"], "customer_region_pairs"),
        )),
        // For the backfill benchmarks: hours from 1900 (a million by 2014), the second
        // reading the first with start_offset -1, in runs of up to 1,000 (one call each).
        Asset::new("hourly_up", echo)
            .partitions(Partitions::hourly("1900-01-01-00:00"))
            .backfill_policy(BackfillPolicy::MultiRun(1000)),
        Asset::new("hourly_down", chained)
            .partitions(Partitions::hourly("1900-01-01-00:00"))
            .input_mapped(
                "hourly_up",
                Mapping::time_window(-1, 0).allow_nonexistent_upstream_partitions(true),
            )
            .backfill_policy(BackfillPolicy::MultiRun(1000)),
        // For the end-to-end benchmarks: 10,000 days from 2000-01-01; a batched run writes
        // one value for its range, or (`bench_keyed`) one per partition.
        Asset::new("bench_up", echo_whole).partitions(Partitions::daily("2000-01-01")),
        Asset::new("bench_keyed", echo).partitions(Partitions::daily("2000-01-01")),
        Asset::new("bench_down", chained)
            .partitions(Partitions::daily("2000-01-01"))
            .input_mapped(
                "bench_up",
                Mapping::time_window(-1, 0).allow_nonexistent_upstream_partitions(true),
            ),
    ],
    sensors: [
        Sensor::new("repeat_sensor", repeat_sensor).minimum_interval(1).targets(["up"]),
    ],
    checks: [
        Check::new("not_the_third", "checked_up", not_the_third)
            .blocking()
            .description("The 3rd of each month is a bad load."),
    ],
}
