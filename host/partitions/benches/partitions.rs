//! Partition-domain benchmarks. Run:
//! `cargo bench -p tessera-partitions --bench partitions -- --output-format bencher`
//!
//! Targets (2-core machine, Dagster 1.13.28 measured in the same run: 467 ms, 158 ms, 0.58 ms,
//! 161 ms): hourly_10y_keys ≤ 5 ms, time_window_10k ≤ 1 ms, map_hourly_all_to_daily ≤ 10 µs,
//! map_1000_hourly_offset ≤ 1 ms, subset_10m ≤ 1 ms and under 1 MB.
//!
//! Calendar exclusions (issue 16), hourly over ten years with every weekend and 100 holidays
//! excluded: excl_hourly_10y_weekends_count ≤ 50 µs, excl_hourly_10y_weekends_key_index_10k
//! ≤ 2 ms; excl_hourly_10y_weekends_build is the one-off cost of a new definition's first
//! answer (its table of excluded runs).
//!
//! N dimensions (issue 16): multi_3d_count_index, daily over ten years × 100 regions × 50
//! products (182.6M partitions): one count and 10k key → index ≤ 2 ms.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark set-up")]

use std::hint::black_box;

use chrono::{DateTime, TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use tessera_partitions::{
    Context, PartitionKey, PartitionMapping, PartitionSubset, PartitionsDefinition, RangeSet,
    TimeWindowMapping, TimeWindowPartitions,
};

fn end_2024() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
}

fn hourly(tz: &str) -> PartitionsDefinition {
    TimeWindowPartitions::hourly("2014-01-01-00:00")
        .end("2024-01-01-00:00")
        .timezone(tz)
        .build()
        .unwrap()
        .into()
}

fn daily() -> PartitionsDefinition {
    TimeWindowPartitions::daily("2014-01-01")
        .end("2024-01-01")
        .build()
        .unwrap()
        .into()
}

/// A deterministic stream of pseudo-random numbers (no dependency needed for this).
fn lcg(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    *seed >> 33
}

fn bench(c: &mut Criterion) {
    let cx = Context::new(end_2024());

    let utc = hourly("UTC");
    assert_eq!(utc.count(&cx).unwrap(), 87_648);
    c.bench_function("hourly_10y_keys", |b| {
        b.iter(|| {
            let keys: Vec<PartitionKey> = utc.keys(&cx).unwrap().collect();
            black_box(keys)
        });
    });

    exclusions(c, &cx);
    multi_3d(c, &cx);

    let ny = hourly("America/New_York");
    c.bench_function("hourly_10y_keys_ny", |b| {
        b.iter(|| {
            let keys: Vec<PartitionKey> = ny.keys(&cx).unwrap().collect();
            black_box(keys)
        });
    });

    let all_keys: Vec<PartitionKey> = utc.keys(&cx).unwrap().collect();
    let mut seed = 42;
    let sample: Vec<&str> = (0..10_000)
        .map(|_| all_keys[lcg(&mut seed) as usize % all_keys.len()].as_str())
        .collect();
    c.bench_function("time_window_10k", |b| {
        b.iter(|| {
            for key in &sample {
                black_box(utc.time_window_for_key(key).unwrap());
            }
        });
    });

    let day = daily();
    let identity_tw = PartitionMapping::TimeWindow(TimeWindowMapping::default());
    let everything = utc.all(&cx).unwrap();
    c.bench_function("map_hourly_all_to_daily", |b| {
        b.iter(|| {
            let down = identity_tw
                .to_downstream(&cx, &everything, &utc, &day)
                .unwrap();
            black_box(down.len())
        });
    });
    assert_eq!(
        identity_tw
            .to_downstream(&cx, &everything, &utc, &day)
            .unwrap()
            .len(),
        3652
    );

    let lookback = PartitionMapping::TimeWindow(TimeWindowMapping {
        start_offset: -1,
        ..TimeWindowMapping::default()
    });
    let picks: Vec<&str> = sample.iter().take(1000).copied().collect();
    c.bench_function("map_1000_hourly_offset", |b| {
        b.iter(|| {
            for key in &picks {
                let one = utc.subset_of_keys(&cx, [key]).unwrap();
                let up = lookback.to_upstream(&cx, &one, Some(&utc), &day).unwrap();
                black_box(up);
            }
        });
    });

    // Ten million minutes (about 19 years of minutely partitions).
    let minutely: PartitionsDefinition =
        TimeWindowPartitions::cron("* * * * *", "2005-01-01-00:00", "%Y-%m-%d-%H:%M")
            .build()
            .unwrap()
            .into();
    let now = Utc
        .timestamp_opt(1_104_537_600 + 10_000_000 * 60, 0)
        .unwrap();
    let big = Context::new(now);
    assert_eq!(minutely.count(&big).unwrap(), 10_000_000);
    let mut holes_seed = 7;
    let holes: Vec<i64> = (0..1000)
        .map(|_| (lcg(&mut holes_seed) % 10_000_000) as i64)
        .collect();
    let other = PartitionSubset::from_range(2_500_000, 7_500_000);
    c.bench_function("subset_10m", |b| {
        b.iter(|| {
            let all = RangeSet::from_range(0, minutely.count(&big).unwrap() as i64);
            let subset = PartitionSubset::from_indices(
                all.difference(&RangeSet::from_values(holes.iter().copied())),
            );
            let both = subset.intersection(&other);
            black_box((subset.len(), both.len(), subset.heap_bytes()))
        });
    });
    let subset = PartitionSubset::from_indices(
        RangeSet::from_range(0, 10_000_000)
            .difference(&RangeSet::from_values(holes.iter().copied())),
    );
    eprintln!(
        "subset_10m: {} partitions in {} bytes",
        subset.len(),
        subset.heap_bytes()
    );
}

/// Hourly windows 2014–2024 without weekends and 100 holidays (weekdays drawn at random).
fn business_hours() -> PartitionsDefinition {
    let mut seed = 11;
    let mut excl = vec!["* * * * 6,0".to_string()];
    let first_day = chrono::NaiveDate::from_ymd_opt(2014, 1, 1).unwrap();
    while excl.len() < 101 {
        let day = first_day + chrono::Duration::days((lcg(&mut seed) % 3652) as i64);
        excl.push(day.format("%Y-%m-%d").to_string());
    }
    TimeWindowPartitions::hourly("2014-01-01-00:00")
        .end("2024-01-01-00:00")
        .exclude(excl)
        .build()
        .unwrap()
        .into()
}

fn exclusions(c: &mut Criterion, cx: &Context<'_>) {
    let def = business_hours();
    let count = def.count(cx).unwrap();
    assert!((60_000..63_000).contains(&count), "{count}");
    c.bench_function("excl_hourly_10y_weekends_count", |b| {
        b.iter(|| black_box(def.count(cx).unwrap()));
    });
    let mut seed = 5;
    let keys: Vec<PartitionKey> = (0..10_000)
        .map(|_| {
            def.key_at(cx, (lcg(&mut seed) % count) as i64)
                .unwrap()
                .unwrap()
        })
        .collect();
    c.bench_function("excl_hourly_10y_weekends_key_index_10k", |b| {
        b.iter(|| {
            let mut sum = 0i64;
            for k in &keys {
                sum += def.index_of(cx, k.as_str()).unwrap().unwrap();
            }
            black_box(sum)
        });
    });
    c.bench_function("excl_hourly_10y_weekends_build", |b| {
        b.iter(|| black_box(business_hours().count(cx).unwrap()));
    });
}

fn multi_3d(c: &mut Criterion, cx: &Context<'_>) {
    use tessera_partitions::{MultiPartitions, StaticPartitions};
    let regions = StaticPartitions::new((0..100).map(|i| format!("region-{i:03}"))).unwrap();
    let products = StaticPartitions::new((0..50).map(|i| format!("product-{i:02}"))).unwrap();
    let def: PartitionsDefinition = MultiPartitions::new([
        ("date", daily()),
        ("region", regions.into()),
        ("product", products.into()),
    ])
    .unwrap()
    .into();
    let count = def.count(cx).unwrap();
    assert_eq!(count, 3652 * 100 * 50);
    let mut seed = 3;
    let keys: Vec<PartitionKey> = (0..10_000)
        .map(|_| {
            def.key_at(cx, (lcg(&mut seed) % count) as i64)
                .unwrap()
                .unwrap()
        })
        .collect();
    c.bench_function("multi_3d_count_index", |b| {
        b.iter(|| {
            let mut sum = def.count(cx).unwrap() as i64;
            for k in &keys {
                sum += def.index_of(cx, k.as_str()).unwrap().unwrap();
            }
            black_box(sum)
        });
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
