//! Laws of calendar exclusions, checked against a brute-force reading of the rules: the
//! partitions of a definition with exclusions are exactly the partitions of the same definition
//! without them, minus the windows whose start an exclusion names — for every `end_offset` —
//! and everything else (indices, keys, windows, ranges, mappings) follows from that listing.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code"
)]

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};
use proptest::prelude::*;
use tessera_partitions::{
    Context, PartitionMapping, PartitionSubset, PartitionsDefinition, RangeSet, TimeWindow,
    TimeWindowMapping, TimeWindowPartitions,
};

const ZONES: [&str; 4] = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
];

/// Exclusion sets, each with its brute-force reading on a window's local start.
const RULES: [&[&str]; 6] = [
    &["* * * * 6,0"],
    &["0 0 * * 6,0"],
    &["2024-03-08", "2024-03-29", "2024-04-01", "2024-11-01"],
    &["0 12 * * *", "2024-03-31"],
    &["* * 1 * *"],
    &["2024-03-10T02:00", "2024-03-11T00:00", "0 0 * * 1"],
];

fn excluded(rule: usize, local: chrono::NaiveDateTime) -> bool {
    let wd = local.weekday().num_days_from_sunday();
    let (h, m) = (local.hour(), local.minute());
    let date = local.format("%Y-%m-%d").to_string();
    match rule {
        0 => wd == 6 || wd == 0,
        1 => (wd == 6 || wd == 0) && h == 0 && m == 0,
        2 => ["2024-03-08", "2024-03-29", "2024-04-01", "2024-11-01"].contains(&date.as_str()),
        3 => (h == 12 && m == 0) || date == "2024-03-31",
        4 => local.day() == 1,
        _ => {
            let wall = local.format("%Y-%m-%dT%H:%M").to_string();
            wall == "2024-03-10T02:00"
                || wall == "2024-03-11T00:00"
                || (wd == 1 && h == 0 && m == 0)
        }
    }
}

fn local_start(w: &TimeWindow) -> chrono::NaiveDateTime {
    DateTime::from_timestamp(w.start + i64::from(w.start_offset), 0)
        .unwrap()
        .naive_utc()
}

fn builder(kind: usize) -> tessera_partitions::TimeWindowBuilder {
    match kind {
        0 => TimeWindowPartitions::hourly("2024-02-25-00:00"),
        1 => TimeWindowPartitions::daily("2024-01-01"),
        2 => TimeWindowPartitions::daily("2024-01-06").hour_offset(6),
        3 => TimeWindowPartitions::weekly("2024-01-01").day_offset(1),
        4 => TimeWindowPartitions::cron("0 9,17 * * 1-5", "2024-01-02-09:00", "%Y-%m-%d-%H:%M"),
        _ => TimeWindowPartitions::monthly("2023-01-01"),
    }
}

fn pair(
    kind: usize,
    zone: usize,
    rule: usize,
    end_offset: i64,
) -> (PartitionsDefinition, PartitionsDefinition) {
    let plain = builder(kind).timezone(ZONES[zone]).end_offset(end_offset);
    let with = plain.clone().exclude(RULES[rule].iter().copied());
    (plain.build().unwrap().into(), with.build().unwrap().into())
}

fn at(day: u32) -> DateTime<Utc> {
    // Up to ~14 months after 2024-02-25: both DST changes of 2024 in every zone.
    Utc.with_ymd_and_hms(2024, 2, 25, 7, 30, 0).unwrap()
        + chrono::Duration::hours(i64::from(day) * 7)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn partitions_are_the_plain_ones_minus_the_excluded(
        kind in 0usize..6, zone in 0usize..4, rule in 0usize..6, end_offset in -2i64..=2, t in 0u32..1400,
    ) {
        let (plain, with) = pair(kind, zone, rule, end_offset);
        let cx = Context::new(at(t));
        let want: Vec<String> = plain
            .keys(&cx)
            .unwrap()
            .filter(|k| !excluded(rule, local_start(&plain.time_window_for_key(k.as_str()).unwrap())))
            .map(|k| k.as_str().to_string())
            .collect();
        let got: Vec<String> = with.keys(&cx).unwrap().map(|k| k.as_str().to_string()).collect();
        prop_assert_eq!(&got, &want);
        prop_assert_eq!(with.count(&cx).unwrap(), want.len() as u64, "count equals the listing");
        // Every key near both ends, a sample between.
        let n = got.len();
        for (i, key) in got.iter().enumerate().filter(|(i, _)| *i < 150 || *i + 50 >= n || i % 97 == 0) {
            let i = i as i64;
            prop_assert_eq!(with.index_of(&cx, key).unwrap(), Some(i), "key -> index");
            prop_assert_eq!(with.key_at(&cx, i).unwrap().map(|k| k.as_str().to_string()), Some(key.clone()), "index -> key");
            let w = with.time_window_for_key(key).unwrap();
            prop_assert_eq!(w, plain.time_window_for_key(key).unwrap(), "windows keep their extent");
            prop_assert!(with.has_key(&cx, key).unwrap());
        }
        // Pages start anywhere.
        if got.len() > 3 {
            let page: Vec<String> = with.keys_from(&cx, 2, 2).unwrap().map(|k| k.as_str().to_string()).collect();
            prop_assert_eq!(&page[..], &got[2..4]);
        }
        // An excluded key is no partition, and its window is the next partition's.
        for k in plain.keys(&cx).unwrap().take(300) {
            let w = plain.time_window_for_key(k.as_str()).unwrap();
            if excluded(rule, local_start(&w)) {
                prop_assert!(!with.has_key(&cx, k.as_str()).unwrap());
                prop_assert_eq!(with.index_of(&cx, k.as_str()).unwrap(), None);
                // (None when every later tick is excluded: a weekly Monday schedule without
                // its Monday midnights.)
                if let Ok(next) = with.time_window_for_key(k.as_str()) {
                    prop_assert!(next.start > w.start && !excluded(rule, local_start(&next)));
                }
            }
        }
    }

    /// Ranges list exactly the partitions between their ends.
    #[test]
    fn ranges_list_the_partitions_between(kind in 0usize..6, zone in 0usize..4, rule in 0usize..6, a in 0.0f64..1.0, b in 0.0f64..1.0) {
        let (_, with) = pair(kind, zone, rule, 0);
        let cx = Context::new(at(1300));
        let keys: Vec<String> = with.keys(&cx).unwrap().map(|k| k.as_str().to_string()).collect();
        prop_assume!(keys.len() > 1);
        let (i, j) = {
            let i = ((keys.len() - 1) as f64 * a) as usize;
            let j = ((keys.len() - 1) as f64 * b) as usize;
            (i.min(j), i.max(j))
        };
        let r = with.range(&cx, &keys[i], &keys[j]).unwrap();
        let listed: Vec<String> = with.subset_keys(&cx, &r).unwrap().map(|k| k.as_str().to_string()).collect();
        prop_assert_eq!(&listed[..], &keys[i..=j]);
    }

    /// Mappings between an excluded and a plain definition: an upstream partition a downstream
    /// one needs has that downstream partition in its image, upstream partitions overlap the
    /// downstream window, and a plain-to-excluded round trip keeps a partition.
    #[test]
    fn mappings_with_exclusions_agree_both_ways(
        up_kind in 0usize..6, down_kind in 0usize..6, zone in 0usize..4, rule in 0usize..6,
        up_excl in any::<bool>(), start_offset in -1i64..=0, frac in 0.05f64..0.95,
    ) {
        let (up_plain, up_with) = pair(up_kind, zone, rule, 0);
        let (down_plain, down_with) = pair(down_kind, zone, rule, 0);
        let (up, down) = if up_excl { (up_with, down_plain) } else { (up_plain, down_with) };
        let cx = Context::new(at(1300));
        let m = PartitionMapping::TimeWindow(TimeWindowMapping { start_offset, ..TimeWindowMapping::default() });
        let down_count = down.count(&cx).unwrap() as i64;
        prop_assume!(down_count > 4);
        let d = ((down_count - 1) as f64 * frac) as i64;
        let one = PartitionSubset::from_range(d, d + 1);
        let needed = m.to_upstream(&cx, &one, Some(&down), &up).unwrap();
        let dw = down.time_window_for_key(down.key_at(&cx, d).unwrap().unwrap().as_str()).unwrap();
        for u in needed.partitions.indices().iter().take(60) {
            let back = m.to_downstream(&cx, &PartitionSubset::from_range(u, u + 1), &up, &down).unwrap();
            prop_assert!(back.contains_index(d), "upstream {u} needed by downstream {d}, but its image {:?} lacks it", back.indices());
            if start_offset == 0 {
                let uw = up.time_window_for_key(up.key_at(&cx, u).unwrap().unwrap().as_str()).unwrap();
                prop_assert!(uw.start < dw.end && dw.start < uw.end, "needed upstream windows overlap the downstream window");
            }
        }
        // Same schedule, exclusions on one side only: identity-like time mapping keeps a key.
        if up_kind == down_kind && start_offset == 0 && up_excl {
            let all = PartitionSubset::from_indices(RangeSet::from_values(0..down_count.min(200)));
            let ups = m.to_upstream(&cx, &all, Some(&down), &up).unwrap();
            let back = m.to_downstream(&cx, &ups.partitions, &up, &down).unwrap();
            prop_assert!(back.is_subset(&all) || back.len() >= ups.partitions.len());
        }
    }
}

/// Excluding every weekend from ten years of hourly windows costs runs, not keys: the count is
/// right without listing, and keys in the middle resolve at once.
#[test]
fn ten_years_of_hourly_weekends_are_arithmetic() {
    let d: PartitionsDefinition = TimeWindowPartitions::hourly("2015-01-01-00:00")
        .exclude(["* * * * 6,0"])
        .build()
        .unwrap()
        .into();
    let cx = Context::new(Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap());
    // 2015-01-01 .. 2025-01-01 is 3,653 days, of which 1,044 are Saturdays or Sundays.
    assert_eq!(d.count(&cx).unwrap(), (3653 - 1044) * 24);
    let key = "2020-02-28-13:00"; // a Friday
    let i = d.index_of(&cx, key).unwrap().unwrap();
    assert_eq!(
        d.key_at(&cx, i + 11).unwrap().unwrap().as_str(),
        "2020-03-02-00:00"
    );
    assert_eq!(
        d.index_of(&cx, "2020-02-29-13:00").unwrap(),
        None,
        "a Saturday"
    );
}
