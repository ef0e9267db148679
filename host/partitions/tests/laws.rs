//! Property tests for the laws the partition domain must keep.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code"
)]

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use tessera_partitions::{
    Context, PartitionMapping, PartitionSubset, PartitionsDefinition, RangeSet, TimeWindowMapping,
    TimeWindowPartitions,
};

const ZONES: [&str; 5] = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
];

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()
}

fn def(kind: usize, tz: &str) -> PartitionsDefinition {
    let b = match kind {
        0 => TimeWindowPartitions::hourly("2023-01-01-00:00"),
        1 => TimeWindowPartitions::hourly("2023-01-01-00:00").minute_offset(30),
        2 => TimeWindowPartitions::daily("2023-01-01"),
        3 => TimeWindowPartitions::daily("2023-01-01")
            .hour_offset(2)
            .minute_offset(30),
        4 => TimeWindowPartitions::weekly("2023-01-01").day_offset(1),
        5 => TimeWindowPartitions::monthly("2023-01-01"),
        6 => TimeWindowPartitions::cron("*/15 * * * *", "2023-01-01-00:00", "%Y-%m-%d-%H:%M"),
        _ => TimeWindowPartitions::cron("0 9,17 * * 1-5", "2023-01-02-09:00", "%Y-%m-%d-%H:%M"),
    };
    b.timezone(tz).build().unwrap().into()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// key → window → index → key is the identity, windows tile time without gaps, and the
    /// index of a window is the number of windows before it.
    #[test]
    fn key_window_index_round_trip(kind in 0usize..8, zone in 0usize..5, frac in 0.0f64..1.0) {
        let d = def(kind, ZONES[zone]);
        let cx = Context::new(now());
        let count = d.count(&cx).unwrap() as i64;
        prop_assume!(count > 1);
        let i = ((count - 1) as f64 * frac) as i64;
        let key = d.key_at(&cx, i).unwrap().unwrap();
        prop_assert_eq!(d.index_of(&cx, key.as_str()).unwrap(), Some(i));
        let w = d.time_window_for_key(key.as_str()).unwrap();
        prop_assert!(w.start < w.end);
        let next = d.key_at(&cx, i + 1).unwrap().unwrap();
        let nw = d.time_window_for_key(next.as_str()).unwrap();
        prop_assert_eq!(w.end, nw.start, "windows must tile");
        // Listing from i agrees with key_at.
        let listed: Vec<_> = d.keys_from(&cx, i as u64, 2).unwrap().collect();
        prop_assert_eq!(listed, vec![key, next]);
    }

    /// Subset algebra on range-encoded subsets matches plain set algebra.
    #[test]
    fn subset_algebra(a in proptest::collection::vec(0i64..200, 0..60), b in proptest::collection::vec(0i64..200, 0..60)) {
        let sa = PartitionSubset::from_indices(RangeSet::from_values(a.iter().copied()));
        let sb = PartitionSubset::from_indices(RangeSet::from_values(b.iter().copied()));
        let set_a: std::collections::BTreeSet<i64> = a.into_iter().collect();
        let set_b: std::collections::BTreeSet<i64> = b.into_iter().collect();
        let collect = |s: &PartitionSubset| s.indices().iter().collect::<std::collections::BTreeSet<i64>>();
        prop_assert_eq!(collect(&sa.union(&sb)), set_a.union(&set_b).copied().collect());
        prop_assert_eq!(collect(&sa.intersection(&sb)), set_a.intersection(&set_b).copied().collect());
        prop_assert_eq!(collect(&sa.difference(&sb)), set_a.difference(&set_b).copied().collect());
        prop_assert_eq!(sa.union(&sb).len() + sa.intersection(&sb).len(), sa.len() + sb.len());
        prop_assert!(sa.intersection(&sb).is_subset(&sa));
    }

    /// Identity maps a subset to itself in both directions.
    #[test]
    fn identity_is_its_own_inverse(kind in 0usize..8, zone in 0usize..5, picks in proptest::collection::vec(0.0f64..1.0, 1..20)) {
        let d = def(kind, ZONES[zone]);
        let cx = Context::new(now());
        let count = d.count(&cx).unwrap() as i64;
        prop_assume!(count > 0);
        let subset = PartitionSubset::from_indices(RangeSet::from_values(picks.iter().map(|f| ((count - 1) as f64 * f) as i64)));
        let up = PartitionMapping::Identity.to_upstream(&cx, &subset, Some(&d), &d).unwrap();
        prop_assert_eq!(&up.partitions, &subset);
        prop_assert!(up.required_but_nonexistent.is_empty());
        let down = PartitionMapping::Identity.to_downstream(&cx, &subset, &d, &d).unwrap();
        prop_assert_eq!(down, subset);
    }

    /// Time-window mappings between cadences are Galois-connected: a downstream partition is in
    /// the downstream image of an upstream partition exactly when that upstream partition is
    /// among what the downstream partition needs.
    #[test]
    fn time_window_mapping_directions_agree(
        up_kind in 0usize..8, down_kind in 0usize..8, zone in 0usize..5,
        start_offset in -2i64..=0, end_offset in 0i64..=1, frac in 0.05f64..0.95,
    ) {
        let tz = ZONES[zone];
        let (up, down) = (def(up_kind, tz), def(down_kind, tz));
        let cx = Context::new(now());
        let m = PartitionMapping::TimeWindow(TimeWindowMapping { start_offset, end_offset, allow_nonexistent_upstream_partitions: false });
        let down_count = down.count(&cx).unwrap() as i64;
        prop_assume!(down_count > 4);
        let d = ((down_count - 1) as f64 * frac) as i64;
        let one = PartitionSubset::from_range(d, d + 1);
        let needed = m.to_upstream(&cx, &one, Some(&down), &up).unwrap();
        for u in needed.partitions.indices().iter().take(50) {
            let back = m.to_downstream(&cx, &PartitionSubset::from_range(u, u + 1), &up, &down).unwrap();
            prop_assert!(back.contains_index(d), "upstream {u} needed by downstream {d}, but its image {:?} lacks it", back.indices());
        }
    }

    /// Mapping a range gives a range (no holes) for a same-cadence lookback.
    #[test]
    fn mapping_a_range_yields_a_range(kind in 0usize..6, zone in 0usize..5, a in 0.1f64..0.5, len in 1i64..200) {
        let d = def(kind, ZONES[zone]);
        let cx = Context::new(now());
        let count = d.count(&cx).unwrap() as i64;
        let start = (count as f64 * a) as i64;
        prop_assume!(start + len < count);
        let m = PartitionMapping::TimeWindow(TimeWindowMapping { start_offset: -1, ..TimeWindowMapping::default() });
        let r = m.to_upstream(&cx, &PartitionSubset::from_range(start, start + len), Some(&d), &d).unwrap();
        prop_assert_eq!(r.partitions.indices().ranges(), &[(start - 1, start + len)]);
    }
}
