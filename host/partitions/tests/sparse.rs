//! Laws of sparse multi partitions, checked against brute force: the partitions are the full
//! product filtered by the declared combinations, listed with the full dimensions outermost
//! and the combinations innermost; counts equal listings, keys and indices round-trip,
//! products are the existing combinations among per-dimension subsets, projections invert
//! them, and mappings to and from every dimension agree with the filtered product.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code"
)]

use std::collections::{BTreeMap, BTreeSet};

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use tessera_partitions::{
    Combinations, Context, DimensionMapping, DynamicPartitions, MemoryDynamicStore,
    MultiPartitions, PartitionMapping, PartitionSubset, PartitionsDefinition, RangeSet,
    StaticPartitions, TimeWindowMapping, TimeWindowPartitions,
};

const CUSTOMERS: [&str; 5] = ["acme", "bolt", "cargo", "dyna", "echo"];
const REGIONS: [&str; 4] = ["apac", "emea", "latam", "us"];

fn statics(keys: &[&str]) -> PartitionsDefinition {
    StaticPartitions::new(keys.iter().copied()).unwrap().into()
}

fn daily(days: u32) -> PartitionsDefinition {
    TimeWindowPartitions::daily("2024-06-01")
        .end(format!("2024-06-{:02}", 1 + days))
        .build()
        .unwrap()
        .into()
}

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 7, 1, 0, 0, 0).unwrap()
}

/// `(customer, region)` pairs picked by a bit mask, given in a shuffled order.
fn pairs(mask: u32, rotate: usize) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = (0..20)
        .filter(|b| mask & (1 << b) != 0)
        .map(|b| (b / 4, b % 4))
        .collect();
    let n = out.len().max(1);
    out.rotate_left(rotate % n);
    out
}

/// A sparse `date × customer × region` (or `customer × region` when `days` is 0) over `pairs`,
/// listed or held in a dynamic set, and the store holding its sets.
fn sparse(
    days: u32,
    pairs: &[(usize, usize)],
    dynamic: bool,
) -> (PartitionsDefinition, MemoryDynamicStore) {
    let mut store = MemoryDynamicStore::new();
    let mut dims = vec![("region", statics(&REGIONS))];
    let combinations = if dynamic {
        store.add("customers", CUSTOMERS);
        store.add(
            "customer_regions",
            pairs
                .iter()
                .map(|&(c, r)| format!("{}|{}", CUSTOMERS[c], REGIONS[r])),
        );
        dims.push(("customer", DynamicPartitions::new("customers").into()));
        Combinations::dynamic(["region", "customer"], "customer_regions")
    } else {
        dims.push(("customer", statics(&CUSTOMERS)));
        // Given region first: the host reorders each combination to dimension-name order.
        Combinations::listed(
            ["region", "customer"],
            pairs.iter().map(|&(c, r)| vec![REGIONS[r], CUSTOMERS[c]]),
        )
    };
    if days > 0 {
        dims.push(("date", daily(days)));
    }
    let def = MultiPartitions::sparse(dims, combinations).unwrap().into();
    (def, store)
}

/// Every partition by brute force: the full product of dates, filtered by the pairs, dates
/// outermost, pairs in product order (listed) or insertion order (dynamic).
fn brute(days: u32, pairs: &[(usize, usize)], dynamic: bool) -> Vec<String> {
    let mut rows: Vec<(usize, usize)> = pairs.to_vec();
    if !dynamic {
        rows.sort_unstable();
    }
    let dates: Vec<Option<String>> = if days == 0 {
        vec![None]
    } else {
        (1..=days)
            .map(|d| Some(format!("2024-06-{d:02}")))
            .collect()
    };
    let mut out = Vec::new();
    for date in &dates {
        for &(c, r) in &rows {
            out.push(match date {
                Some(d) => format!("{}|{d}|{}", CUSTOMERS[c], REGIONS[r]),
                None => format!("{}|{}", CUSTOMERS[c], REGIONS[r]),
            });
        }
    }
    out
}

fn keys_of(
    def: &PartitionsDefinition,
    cx: &Context<'_>,
    subset: &PartitionSubset,
) -> BTreeSet<String> {
    def.subset_keys(cx, subset)
        .unwrap()
        .map(|k| k.as_str().to_string())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn partitions_are_the_filtered_product(mask in 0u32..(1 << 20), rotate in 0usize..20, days in 0u32..4, dynamic: bool) {
        let pairs = pairs(mask, rotate);
        let (def, store) = sparse(days, &pairs, dynamic);
        let cx = Context::new(now()).with_dynamic(&store);
        let want = brute(days, &pairs, dynamic);
        prop_assert_eq!(def.count(&cx).unwrap(), want.len() as u64);
        let got: Vec<String> = def.keys(&cx).unwrap().map(|k| k.as_str().to_string()).collect();
        prop_assert_eq!(&got, &want);
        for (i, key) in want.iter().enumerate() {
            prop_assert_eq!(def.index_of(&cx, key).unwrap(), Some(i as i64));
        }
        // Pages agree with the listing.
        if !want.is_empty() {
            let offset = (rotate % want.len()) as u64;
            let page: Vec<String> = def.keys_page(&cx, offset, 3).unwrap().iter().map(|k| k.as_str().to_string()).collect();
            prop_assert_eq!(&page[..], &want[offset as usize..(offset as usize + 3).min(want.len())]);
        }
        // A combination that is not declared is no partition.
        for c in CUSTOMERS {
            for r in REGIONS {
                let key = if days > 0 { format!("{c}|2024-06-01|{r}") } else { format!("{c}|{r}") };
                prop_assert_eq!(def.has_key(&cx, &key).unwrap(), want.contains(&key));
            }
        }
    }

    /// The product of per-dimension subsets is the declared combinations among them, and
    /// projecting it gives back the keys each dimension uses.
    #[test]
    fn products_and_projections(mask in 1u32..(1 << 20), rotate in 0usize..20, dynamic: bool, cs in 1u32..32, rs in 1u32..16, d0 in 0i64..3, d1 in 0i64..3) {
        let pairs = pairs(mask, rotate);
        let (def, store) = sparse(3, &pairs, dynamic);
        let cx = Context::new(now()).with_dynamic(&store);
        let m = def.as_multi().unwrap();
        let pick = |bits: u32, n: usize| PartitionSubset::from_indices(RangeSet::from_values((0..n as i64).filter(|i| bits & (1 << i) != 0)));
        // Dimensions in name order: customer, date, region.
        let parts = vec![pick(cs, 5), PartitionSubset::from_range(d0.min(d1), d0.max(d1) + 1), pick(rs, 4)];
        let product = m.product(&cx, &parts).unwrap();
        let want: BTreeSet<String> = brute(3, &pairs, dynamic)
            .into_iter()
            .filter(|k| {
                let p: Vec<&str> = k.split('|').collect();
                let c = CUSTOMERS.iter().position(|x| *x == p[0]).unwrap() as i64;
                let d = p[1][8..].parse::<i64>().unwrap() - 1;
                let r = REGIONS.iter().position(|x| *x == p[2]).unwrap() as i64;
                parts[0].contains_index(c) && parts[1].contains_index(d) && parts[2].contains_index(r)
            })
            .collect();
        prop_assert_eq!(&keys_of(&def, &cx, &product), &want);
        prop_assert!(product.unindexed().is_empty());
        let projected = m.project(&cx, &product).unwrap();
        for (dim, part) in projected.iter().enumerate() {
            let used: BTreeSet<String> = want.iter().map(|k| k.split('|').nth(dim).unwrap().to_string()).collect();
            prop_assert_eq!(&keys_of(&m.dimensions()[dim].def, &cx, part), &used);
        }
    }

    /// Multi-to-single on every dimension, in both directions, against the filtered product.
    #[test]
    fn multi_to_single_on_every_dimension(mask in 1u32..(1 << 20), rotate in 0usize..20, dynamic: bool, which in 0usize..3, picks in proptest::collection::vec(0.0f64..1.0, 1..8)) {
        let pairs = pairs(mask, rotate);
        let (def, store) = sparse(3, &pairs, dynamic);
        let cx = Context::new(now()).with_dynamic(&store);
        let m = def.as_multi().unwrap();
        let name = m.dimensions()[which].name.clone();
        let single = m.dimensions()[which].def.clone();
        let count = def.count(&cx).unwrap() as i64;
        let mapping = PartitionMapping::MultiToSingleDimension { dimension: Some(name) };
        let subset = PartitionSubset::from_indices(RangeSet::from_values(picks.iter().map(|f| ((count - 1) as f64 * f) as i64)));
        let up = mapping.to_upstream(&cx, &subset, Some(&def), &single).unwrap();
        let used: BTreeSet<String> = keys_of(&def, &cx, &subset).iter().map(|k| k.split('|').nth(which).unwrap().to_string()).collect();
        prop_assert_eq!(&keys_of(&single, &cx, &up.partitions), &used);
        let down = mapping.to_downstream(&cx, &up.partitions, &single, &def).unwrap();
        let want: BTreeSet<String> = brute(3, &pairs, dynamic)
            .into_iter()
            .filter(|k| used.contains(k.split('|').nth(which).unwrap()))
            .collect();
        prop_assert_eq!(&keys_of(&def, &cx, &down), &want);
        prop_assert!(subset.is_subset(&down));
    }

    /// Per-dimension mappings between a sparse and a dense definition keep each combination's
    /// keys together: a one-day lag on the date, identity on customer and region.
    #[test]
    fn per_dimension_mapping_keeps_combinations(mask in 1u32..(1 << 20), rotate in 0usize..20, picks in proptest::collection::vec(0.0f64..1.0, 1..8)) {
        let pairs = pairs(mask, rotate);
        let (def, store) = sparse(3, &pairs, false);
        let cx = Context::new(now()).with_dynamic(&store);
        let dense: PartitionsDefinition = MultiPartitions::new([
            ("customer", statics(&CUSTOMERS)),
            ("date", daily(3)),
            ("region", statics(&REGIONS)),
        ]).unwrap().into();
        let lag = TimeWindowMapping { start_offset: -1, end_offset: -1, ..TimeWindowMapping::default() };
        let dims: BTreeMap<String, DimensionMapping> = [
            ("date", PartitionMapping::TimeWindow(lag)),
            ("customer", PartitionMapping::Identity),
            ("region", PartitionMapping::Identity),
        ]
        .into_iter()
        .map(|(n, m)| (n.to_string(), DimensionMapping { downstream_dimension: n.to_string(), mapping: m }))
        .collect();
        let mapping = PartitionMapping::Multi(dims);
        let count = def.count(&cx).unwrap() as i64;
        let subset = PartitionSubset::from_indices(RangeSet::from_values(picks.iter().map(|f| ((count - 1) as f64 * f) as i64)));
        let up = mapping.to_upstream(&cx, &subset, Some(&def), &dense).unwrap();
        let shifted = |k: &str, by: i64| {
            let p: Vec<&str> = k.split('|').collect();
            let d = p[1][8..].parse::<i64>().unwrap() + by;
            format!("{}|2024-06-{d:02}|{}", p[0], p[2])
        };
        let selected = keys_of(&def, &cx, &subset);
        let want: BTreeSet<String> = selected.iter().filter(|k| !k.contains("2024-06-01")).map(|k| shifted(k, -1)).collect();
        prop_assert_eq!(&keys_of(&dense, &cx, &up.partitions), &want);
        // Downstream of the dense partitions: the declared combinations a day later.
        let down = mapping.to_downstream(&cx, &up.partitions, &dense, &def).unwrap();
        let back: BTreeSet<String> = want.iter().map(|k| shifted(k, 1)).collect();
        prop_assert_eq!(&keys_of(&def, &cx, &down), &back);
    }
}

#[test]
fn a_daily_input_fans_out_to_each_days_combinations_as_one_range() {
    let (def, store) = sparse(3, &[(0, 1), (0, 3), (2, 0)], false);
    let cx = Context::new(now()).with_dynamic(&store);
    let day = daily(3);
    let mapping = PartitionMapping::MultiToSingleDimension {
        dimension: Some("date".to_string()),
    };
    let second = day.subset_of_keys(&cx, ["2024-06-02"]).unwrap();
    let down = mapping.to_downstream(&cx, &second, &day, &def).unwrap();
    assert_eq!(down.indices().ranges(), &[(3, 6)]);
    let keys: Vec<String> = def
        .subset_keys(&cx, &down)
        .unwrap()
        .map(|k| k.as_str().to_string())
        .collect();
    assert_eq!(
        keys,
        [
            "acme|2024-06-02|emea",
            "acme|2024-06-02|us",
            "cargo|2024-06-02|apac"
        ]
    );
}

#[test]
fn a_dynamic_set_of_combinations_grows_at_the_end() {
    let (def, mut store) = sparse(0, &[(1, 2), (0, 0)], true);
    {
        let cx = Context::new(now()).with_dynamic(&store);
        assert_eq!(def.count(&cx).unwrap(), 2);
        assert_eq!(def.index_of(&cx, "acme|apac").unwrap(), Some(1));
        def.as_multi()
            .unwrap()
            .check_combination(&cx, "echo|us")
            .unwrap();
        let err = def
            .as_multi()
            .unwrap()
            .check_combination(&cx, "zed|us")
            .unwrap_err();
        assert!(err.to_string().contains("has no key \"zed\""), "{err}");
        let err = def
            .as_multi()
            .unwrap()
            .check_combination(&cx, "echo")
            .unwrap_err();
        assert!(err.to_string().contains("must join 2 keys"), "{err}");
    }
    store.add("customer_regions", ["echo|us"]);
    let cx = Context::new(now()).with_dynamic(&store);
    assert_eq!(def.count(&cx).unwrap(), 3);
    assert_eq!(def.key_at(&cx, 2).unwrap().unwrap().as_str(), "echo|us");
    assert_eq!(def.dynamic_sets(), ["customers", "customer_regions"]);
}

#[test]
fn bad_combinations_are_refused_with_the_reason() {
    let dims = || {
        vec![
            ("customer", statics(&CUSTOMERS)),
            ("region", statics(&REGIONS)),
            ("date", daily(3)),
        ]
    };
    let err = |c: Combinations| MultiPartitions::sparse(dims(), c).unwrap_err().to_string();
    let e = err(Combinations::listed(
        ["customer", "date"],
        [vec!["acme", "2024-06-01"]],
    ));
    assert!(
        e.contains("listed combinations take static dimensions; dimension \"date\" is time_window"),
        "{e}"
    );
    let e = err(Combinations::listed(
        ["customer", "planet"],
        [vec!["acme", "x"]],
    ));
    assert!(e.contains("no dimension \"planet\""), "{e}");
    let e = err(Combinations::listed(
        ["customer", "region"],
        [vec!["acme", "mars"]],
    ));
    assert!(
        e.contains("dimension \"region\" has no key \"mars\""),
        "{e}"
    );
    let e = err(Combinations::listed(["customer", "region"], [vec!["acme"]]));
    assert!(e.contains("has 1 keys for 2 dimensions"), "{e}");
    let e = err(Combinations::listed(
        ["region", "customer"],
        [vec!["us", "acme"], vec!["emea", "bolt"], vec!["us", "acme"]],
    ));
    assert!(e.contains("must be unique") && e.contains("acme|us"), "{e}");
    let e = err(Combinations::listed(
        Vec::<String>::new(),
        Vec::<Vec<String>>::new(),
    ));
    assert!(e.contains("name no dimension"), "{e}");
    let e = err(Combinations::dynamic(["date"], "set"));
    assert!(
        e.contains("dynamic set of combinations takes static and dynamic dimensions"),
        "{e}"
    );
}
