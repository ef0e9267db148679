//! A tour of the partition domain: `cargo run --release -p tessera-partitions --example tour`.
//!
//! Everything is evaluated as of a fixed `now`, so the output is the same on every machine.

#![allow(clippy::print_stdout, reason = "a demo prints")]

use chrono::{DateTime, TimeZone, Utc};
use tessera_partitions::{
    Context, DynamicPartitions, Error, MemoryDynamicStore, MultiPartitions, PartitionKey,
    PartitionMapping, PartitionSubset, PartitionsDefinition, RangeSet, StaticPartitions,
    TimeWindowMapping, TimeWindowPartitions,
};

fn list(keys: impl IntoIterator<Item = PartitionKey>) -> String {
    keys.into_iter()
        .map(PartitionKey::into_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn main() -> Result<(), Error> {
    let now: DateTime<Utc> = Utc
        .with_ymd_and_hms(2024, 11, 4, 12, 0, 0)
        .single()
        .unwrap_or_default();
    let cx = Context::new(now);
    println!("Evaluated as of {now}\n");

    // Hourly partitions in New York across the November fall-back: the repeated 01:00 hour
    // appears twice, the second time with its UTC offset in the key.
    let hourly: PartitionsDefinition = TimeWindowPartitions::hourly("2024-11-02-22:00")
        .timezone("America/New_York")
        .build()?
        .into();
    println!("{hourly}: {} partitions", hourly.count(&cx)?);
    for key in hourly.keys_from(&cx, 0, 7)? {
        let w = hourly.time_window_for_key(key.as_str())?;
        println!("  {key:<24} {w}");
    }

    // Daily partitions: 2024-03-10 lost an hour in New York, 2024-11-03 gained one.
    let daily: PartitionsDefinition = TimeWindowPartitions::daily("2024-01-01")
        .timezone("America/New_York")
        .build()?
        .into();
    println!("\n{daily}: {} partitions", daily.count(&cx)?);
    for key in ["2024-03-10", "2024-06-15", "2024-11-03"] {
        let w = daily.time_window_for_key(key)?;
        println!("  {key} lasts {} hours", w.duration_secs() / 3600);
    }

    // A downstream hourly asset that also needs the previous day's partition upstream.
    let lookback = PartitionMapping::TimeWindow(TimeWindowMapping {
        start_offset: -1,
        ..TimeWindowMapping::default()
    });
    let hour = hourly.subset_of_keys(&cx, ["2024-11-03-01:00-0500"])?;
    let up = lookback.to_upstream(&cx, &hour, Some(&hourly), &hourly)?;
    let keys = list(hourly.subset_keys(&cx, &up.partitions)?);
    println!("\nhourly 2024-11-03-01:00-0500 with start_offset -1 needs: {keys}");

    let to_daily = PartitionMapping::TimeWindow(TimeWindowMapping::default());
    let up = to_daily.to_upstream(&cx, &hour, Some(&hourly), &daily)?;
    let keys = list(daily.subset_keys(&cx, &up.partitions)?);
    println!("… and from the daily asset: {keys}");

    // Regions × days, keyed `region|date` in dimension-name order.
    let regions = StaticPartitions::new(["eu", "us", "apac"])?;
    let multi: PartitionsDefinition = MultiPartitions::new([
        ("region", PartitionsDefinition::from(regions)),
        ("date", daily),
    ])?
    .into();
    println!("\n{multi}: {} partitions", multi.count(&cx)?);
    println!("  first keys: {}", list(multi.keys_from(&cx, 0, 4)?));

    // Dynamic partitions come from a store (the engine's SQLite database, here memory).
    let mut store = MemoryDynamicStore::new();
    store.add("customers", ["acme", "globex", "initech"]);
    let customers = PartitionsDefinition::from(DynamicPartitions::new("customers"));
    let dcx = Context::new(now).with_dynamic(&store);
    println!("\n{customers}: {}", list(customers.keys(&dcx)?));

    // Ten million minutely partitions with a thousand failed ones cost a few kilobytes.
    let minutely: PartitionsDefinition =
        TimeWindowPartitions::cron("* * * * *", "2005-01-01-00:00", "%Y-%m-%d-%H:%M")
            .build()?
            .into();
    let later = Context::new(
        Utc.timestamp_opt(1_104_537_600 + 600_000_000, 0)
            .single()
            .unwrap_or(now),
    );
    let all = minutely.all(&later)?;
    let failed = PartitionSubset::from_indices(RangeSet::from_values(
        (0..1000).map(|i: i64| i * 9_973 + 17),
    ));
    let done = all.difference(&failed);
    println!(
        "\n{minutely}: {} partitions; {} materialized, stored in {} bytes",
        all.len(),
        done.len(),
        done.heap_bytes()
    );
    Ok(())
}
