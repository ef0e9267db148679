//! Every definition, mapping, multi-asset and backfill policy the contract allows, and a
//! partition mapping and an asset check this plugin exports, declared with the Rust SDK. `tests/kits/{c,js,python}` declare the same with their kits; the
//! `kits` test checks that each declares exactly this.

use tessera_sdk::prelude::*;

/// The partition (or range) the call covers, or `-` when unpartitioned.
fn label(ctx: &Context, _inputs: &Inputs) -> Result<Output, PluginError> {
    Ok(Output::text(match ctx.partition_keys() {
        [] => "-".to_string(),
        [one] => one.clone(),
        [first, .., last] => format!("{first}...{last}"),
    }))
}

/// One output per key of the call, each its own key: every partition has its own value.
fn per_key(ctx: &Context, _inputs: &Inputs) -> Result<Outputs, PluginError> {
    Ok(ctx
        .partition_keys()
        .iter()
        .map(|k| Output::text(k.as_str()).for_partition(k))
        .collect())
}

fn pair(ctx: &Context, _inputs: &Inputs) -> Result<Outputs, PluginError> {
    let mut out = Outputs::new();
    for asset in ["pair_a", "pair_b"] {
        if ctx.is_requested(asset) {
            out.push(asset, Output::text(asset));
        }
    }
    Ok(out)
}

/// Region codes upper-cased (`eu` → `EU`), run by run: the mapping `case` downstream.
fn upper(r: &MapRequest) -> Result<Vec<(String, String)>, PluginError> {
    Ok(r.ranges
        .iter()
        .map(|(first, last)| (first.to_uppercase(), last.to_uppercase()))
        .collect())
}

/// And back upstream.
fn lower(r: &MapRequest) -> Result<Vec<(String, String)>, PluginError> {
    Ok(r.ranges
        .iter()
        .map(|(first, last)| (first.to_lowercase(), last.to_lowercase()))
        .collect())
}

/// Each value must be its key (as `src` writes them): empty warns, anything else fails; every
/// result carries the value's size, the asset checked and the time of the evaluation.
fn labelled(
    ctx: &CheckContext,
    values: &[(String, Vec<u8>)],
) -> Result<Vec<CheckResult>, PluginError> {
    Ok(values
        .iter()
        .map(|(key, data)| {
            let result = if data.is_empty() {
                CheckResult::warn(key, "empty")
            } else if data == key.as_bytes() {
                CheckResult::pass(key)
            } else {
                CheckResult::fail(key, format!("wrote {}", String::from_utf8_lossy(data)))
            };
            result
                .metadata("bytes", data.len() as i64)
                .metadata("asset", ctx.asset.as_str())
                .metadata("now", ctx.now)
        })
        .collect())
}

fn grid() -> Partitions {
    Partitions::multi([
        Dimension::new("day", Partitions::daily("2024-01-01")),
        Dimension::new("region", DimensionPartitions::static_keys(["eu", "us"])),
    ])
}

tessera_sdk::plugin! {
    assets: [
        Asset::new("src", per_key)
            .partitions(Partitions::daily("2024-01-01"))
            .backfill_policy(BackfillPolicy::MultiRun(5)),
        Asset::new("grid", label)
            .partitions(grid())
            .backfill_policy(BackfillPolicy::SinglePartition),
        Asset::new("by_region", label)
            .partitions(Partitions::static_keys(["eu", "us"]))
            .input_mapped("grid", Mapping::multi_to_single_dimension("region")),
        Asset::new("grid_shifted", label)
            .partitions(grid())
            .input_mapped(
                "grid",
                Mapping::multi([
                    DimensionMapping::new("day", "day", Mapping::time_window(-1, 0)),
                    DimensionMapping::new(
                        "region",
                        "region",
                        DimensionMappingKind::StaticMap(vec![
                            ("eu".into(), vec!["us".into()]),
                            ("us".into(), vec!["eu".into()]),
                        ]),
                    ),
                ]),
            ),
        Asset::new("grid_eu", label)
            .partitions(grid())
            .input_mapped(
                "grid",
                Mapping::multi([
                    DimensionMapping::new("day", "day", DimensionMappingKind::Identity),
                    DimensionMapping::new(
                        "region",
                        "region",
                        DimensionMappingKind::Specific(vec!["eu".into()]),
                    ),
                ]),
            ),
        Asset::new("firsts", label)
            .input_mapped("src", Mapping::specific(["2024-01-01", "2024-01-02"])),
        Asset::new("labels", label)
            .partitions(Partitions::static_keys(["EU", "US"]))
            .input_mapped(
                "by_region",
                Mapping::static_map([("eu", ["EU"]), ("us", ["US"])]),
            ),
        // Contract 0.3.0: a business calendar, and three dimensions.
        Asset::new("business", label)
            .partitions(
                Partitions::daily("2024-01-01").exclude(["* * * * 6,0", "2024-01-15", "2024-01-16T00:00"]),
            )
            .input("src"),
        Asset::new("cube", label).partitions(Partitions::multi([
            Dimension::new("day", Partitions::daily("2024-01-01")),
            Dimension::new("region", DimensionPartitions::static_keys(["eu", "us"])),
            Dimension::new("product", DimensionPartitions::static_keys(["a", "b"])),
        ])),
        // Sparse: each customer's regions every day; combinations held in a dynamic set.
        Asset::new("accounts", label).partitions(Partitions::sparse(
            [
                Dimension::new("day", Partitions::daily("2024-01-01")),
                Dimension::new("customer", DimensionPartitions::static_keys(["acme", "bolt"])),
                Dimension::new("region", DimensionPartitions::static_keys(["eu", "us"])),
            ],
            Combinations::per_key("customer", "region", [("acme", vec!["us", "eu"]), ("bolt", vec!["eu"])]),
        )),
        Asset::new("pairs", label).partitions(Partitions::sparse(
            [
                Dimension::new("customer", DimensionPartitions::dynamic("customers")),
                Dimension::new("region", DimensionPartitions::static_keys(["eu", "us"])),
            ],
            Combinations::dynamic(["customer", "region"], "customer_regions"),
        )),
        // A weekly roll-up of the days that waits a day after each week for late days.
        Asset::new("weekly", label)
            .partitions(Partitions::weekly("2024-01-01"))
            .input(AssetInput::new("src").rollup(Rollup::WaitUntil(86_400))),
        // Through a mapping a plugin exports (not loaded here: only declared).
        Asset::new("fiscal", label)
            .partitions(Partitions::static_keys(["FY2024-P01"]))
            .input_mapped("src", Mapping::plugin("fiscal_445")),
        Computation::new("pair", pair)
            .partitions(Partitions::daily("2024-01-01"))
            .input("src")
            .asset(AssetSpec::new("pair_a").backfill_policy(BackfillPolicy::SingleRun))
            .asset("pair_b"),
    ],
    mappings: [
        Mapper::new("case", lower, upper).description("Region codes in either case"),
    ],
    checks: [
        Check::new("labelled", "src", labelled)
            .description("Each day's value is its key")
            .blocking(),
    ],
}
