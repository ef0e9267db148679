//! Laws of N-dimensional multi partitions, checked against brute force: the keys are the
//! cartesian product in dimension-name order with the first dimension outermost, counts equal
//! listings, key ↔ index round-trips, ranges and products are boxes of the product, projections
//! invert products, and multi-to-single mappings work for every dimension.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code"
)]

use std::collections::BTreeSet;

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use tessera_partitions::{
    Context, MultiPartitions, PartitionMapping, PartitionSubset, PartitionsDefinition, RangeSet,
    StaticPartitions, TimeWindowPartitions,
};

fn dimension(kind: usize, size: usize) -> PartitionsDefinition {
    match kind {
        0 => StaticPartitions::new((0..size).map(|i| format!("s{i}")))
            .unwrap()
            .into(),
        1 => TimeWindowPartitions::daily("2024-06-01")
            .end(format!("2024-06-{:02}", 1 + size.max(1)))
            .build()
            .unwrap()
            .into(),
        2 => TimeWindowPartitions::hourly("2024-06-07-20:00")
            .exclude(["* * * * 6,0"])
            .build()
            .unwrap()
            .into(),
        _ => TimeWindowPartitions::weekly("2024-01-01")
            .timezone("Europe/Berlin")
            .build()
            .unwrap()
            .into(),
    }
}

fn cx() -> Context<'static> {
    Context::new(Utc.with_ymd_and_hms(2024, 6, 10, 6, 30, 0).unwrap())
}

prop_compose! {
    fn multi()(spec in proptest::collection::vec((0usize..4, 1usize..5), 2..=4), names in Just(["region", "date", "product", "hour"])) -> (MultiPartitions, Vec<PartitionsDefinition>) {
        let dims: Vec<(String, PartitionsDefinition)> = spec
            .iter()
            .enumerate()
            .map(|(i, &(kind, size))| (format!("{}{i}", names[i]), dimension(kind, size)))
            .collect();
        let mut sorted = dims.clone();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        (MultiPartitions::new(dims).unwrap(), sorted.into_iter().map(|(_, d)| d).collect())
    }
}

/// Every key of the product, in listing order, by brute force.
fn product_keys(defs: &[PartitionsDefinition]) -> Vec<String> {
    let cx = cx();
    let mut out = vec![String::new()];
    for (i, d) in defs.iter().enumerate() {
        let keys: Vec<String> = d
            .keys(&cx)
            .unwrap()
            .map(|k| k.as_str().to_string())
            .collect();
        out = out
            .into_iter()
            .flat_map(|prefix| {
                keys.iter()
                    .map(move |k| {
                        if i == 0 {
                            k.clone()
                        } else {
                            format!("{prefix}|{k}")
                        }
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn keys_are_the_ordered_product((m, defs) in multi()) {
        let cx = cx();
        let def = PartitionsDefinition::from(m);
        let want = product_keys(&defs);
        prop_assert_eq!(def.count(&cx).unwrap(), want.len() as u64);
        let got: Vec<String> = def.keys(&cx).unwrap().map(|k| k.as_str().to_string()).collect();
        prop_assert_eq!(&got, &want);
        for (i, key) in want.iter().enumerate() {
            prop_assert_eq!(def.index_of(&cx, key).unwrap(), Some(i as i64));
            let at = def.key_at(&cx, i as i64).unwrap().unwrap();
            prop_assert_eq!(at.as_str(), key.as_str());
        }
    }

    #[test]
    fn projection_inverts_product((m, defs) in multi(), picks in proptest::collection::vec((0.0f64..1.0, 0.0f64..1.0), 4)) {
        let cx = cx();
        let counts: Vec<i64> = defs.iter().map(|d| d.count(&cx).unwrap() as i64).collect();
        prop_assume!(counts.iter().all(|&c| c > 0));
        let parts: Vec<PartitionSubset> = counts
            .iter()
            .zip(&picks)
            .map(|(&c, &(a, b))| {
                let (i, j) = (((c - 1) as f64 * a) as i64, ((c - 1) as f64 * b) as i64);
                PartitionSubset::from_range(i.min(j), i.max(j) + 1)
            })
            .collect();
        let product = m.product(&cx, &parts).unwrap();
        let expected: u64 = parts.iter().map(PartitionSubset::len).product();
        prop_assert_eq!(product.len(), expected);
        let projected = m.project(&cx, &product).unwrap();
        prop_assert_eq!(&projected, &parts);
        // Every flat index of the product splits into indices inside the parts.
        let def = PartitionsDefinition::from(m);
        for key in def.subset_keys(&cx, &product).unwrap().take(200) {
            for (part, (d, k)) in parts.iter().zip(defs.iter().zip(key.as_str().split('|'))) {
                prop_assert!(part.contains_index(d.index_of(&cx, k).unwrap().unwrap()));
            }
        }
    }

    /// Any subset (not just boxes) projects onto exactly the per-dimension indices its keys use.
    #[test]
    fn projection_of_any_subset((m, defs) in multi(), picks in proptest::collection::vec(0.0f64..1.0, 1..30)) {
        let cx = cx();
        let def = PartitionsDefinition::from(m.clone());
        let count = def.count(&cx).unwrap() as i64;
        prop_assume!(count > 0);
        let subset = PartitionSubset::from_indices(RangeSet::from_values(picks.iter().map(|f| ((count - 1) as f64 * f) as i64)));
        let projected = m.project(&cx, &subset).unwrap();
        let mut want = vec![BTreeSet::new(); defs.len()];
        for key in def.subset_keys(&cx, &subset).unwrap() {
            for ((set, d), k) in want.iter_mut().zip(&defs).zip(key.as_str().split('|')) {
                set.insert(d.index_of(&cx, k).unwrap().unwrap());
            }
        }
        for (p, w) in projected.iter().zip(&want) {
            prop_assert_eq!(&p.indices().iter().collect::<BTreeSet<_>>(), w);
        }
    }

    /// Multi-to-single for any dimension: the single partitions a multi subset needs are its
    /// projection on that dimension, and a single partition's image is every combination
    /// holding its key.
    #[test]
    fn multi_to_single_for_every_dimension((m, defs) in multi(), which in 0usize..4, picks in proptest::collection::vec(0.0f64..1.0, 1..10)) {
        let cx = cx();
        let which = which % defs.len();
        let name = m.dimensions()[which].name.clone();
        let multi = PartitionsDefinition::from(m.clone());
        let single = &defs[which];
        let count = multi.count(&cx).unwrap() as i64;
        prop_assume!(count > 0);
        let mapping = PartitionMapping::MultiToSingleDimension { dimension: Some(name) };
        let subset = PartitionSubset::from_indices(RangeSet::from_values(picks.iter().map(|f| ((count - 1) as f64 * f) as i64)));
        // Single upstream of a multi downstream.
        let up = mapping.to_upstream(&cx, &subset, Some(&multi), single).unwrap();
        let projected = m.project(&cx, &subset).unwrap();
        prop_assert_eq!(&up.partitions, &projected[which]);
        // Its image back in the multi definition: all combinations with those keys.
        let down = mapping.to_downstream(&cx, &up.partitions, single, &multi).unwrap();
        let wanted: BTreeSet<String> = product_keys(&defs)
            .into_iter()
            .filter(|k| {
                let part = k.split('|').nth(which).unwrap();
                up.partitions.contains_index(single.index_of(&cx, part).unwrap().unwrap())
            })
            .collect();
        let got: BTreeSet<String> = multi.subset_keys(&cx, &down).unwrap().map(|k| k.as_str().to_string()).collect();
        prop_assert_eq!(got, wanted);
        prop_assert!(subset.is_subset(&down));
    }
}

#[test]
fn dimension_counts_outside_two_to_eight_are_refused() {
    let d = || PartitionsDefinition::from(StaticPartitions::new(["a", "b"]).unwrap());
    assert!(MultiPartitions::new([("x", d())]).is_err());
    let nine: Vec<(String, PartitionsDefinition)> =
        (0..9).map(|i| (format!("d{i}"), d())).collect();
    let err = MultiPartitions::new(nine).unwrap_err();
    assert!(err.to_string().contains("2 to 8 dimensions"), "{err}");
    let three = MultiPartitions::new([("c", d()), ("a", d()), ("b", d())]).unwrap();
    let cx = cx();
    let def = PartitionsDefinition::from(three);
    let keys: Vec<String> = def
        .keys(&cx)
        .unwrap()
        .map(|k| k.as_str().to_string())
        .collect();
    assert_eq!(keys[..3], ["a|a|a", "a|a|b", "a|b|a"]);
    assert_eq!(keys.len(), 8);
}

/// Per-dimension mappings in three dimensions: a one-day lag on the date, identity elsewhere.
#[test]
fn per_dimension_mappings_in_three_dimensions() {
    use std::collections::BTreeMap;
    use tessera_partitions::{DimensionMapping, TimeWindowMapping};
    let cx = cx();
    let def = || -> PartitionsDefinition {
        MultiPartitions::new([
            (
                "region",
                StaticPartitions::new(["eu", "us"]).unwrap().into(),
            ),
            ("date", dimension(1, 5)),
            (
                "product",
                StaticPartitions::new(["p1", "p2", "p3"]).unwrap().into(),
            ),
        ])
        .unwrap()
        .into()
    };
    let (up, down) = (def(), def());
    let lag = TimeWindowMapping {
        start_offset: -1,
        end_offset: -1,
        ..TimeWindowMapping::default()
    };
    let dims: BTreeMap<String, DimensionMapping> = [
        ("date", PartitionMapping::TimeWindow(lag)),
        ("region", PartitionMapping::Identity),
        ("product", PartitionMapping::Identity),
    ]
    .into_iter()
    .map(|(n, m)| {
        (
            n.to_string(),
            DimensionMapping {
                downstream_dimension: n.to_string(),
                mapping: m,
            },
        )
    })
    .collect();
    let mapping = PartitionMapping::Multi(dims);
    let one = down.subset_of_keys(&cx, ["2024-06-03|p2|us"]).unwrap();
    let r = mapping.to_upstream(&cx, &one, Some(&down), &up).unwrap();
    let keys: Vec<String> = up
        .subset_keys(&cx, &r.partitions)
        .unwrap()
        .map(|k| k.as_str().to_string())
        .collect();
    assert_eq!(keys, ["2024-06-02|p2|us"]);
    let first = down.subset_of_keys(&cx, ["2024-06-01|p1|eu"]).unwrap();
    let r = mapping.to_upstream(&cx, &first, Some(&down), &up).unwrap();
    assert!(r.partitions.is_empty());
    let back = mapping
        .to_downstream(
            &cx,
            &down.subset_of_keys(&cx, ["2024-06-02|p2|us"]).unwrap(),
            &up,
            &down,
        )
        .unwrap();
    let keys: Vec<String> = down
        .subset_keys(&cx, &back)
        .unwrap()
        .map(|k| k.as_str().to_string())
        .collect();
    assert_eq!(keys, ["2024-06-03|p2|us"]);
}
