"""The Python kit declaring what tests/guests/kit_coverage declares with the Rust SDK: every
definition, mapping, multi-asset and backfill policy the contract allows, and a partition
mapping and an asset check the plugin exports."""

from tessera import (
    AssetSpec,
    BackfillPolicy,
    CheckContext,
    CheckResult,
    Combinations,
    Context,
    InputPartition,
    Inputs,
    MapRequest,
    Output,
    PerPartition,
    Plugin,
    Rollup,
    daily,
    dynamic,
    identity,
    multi,
    multi_mapping,
    multi_to_single,
    plugin_mapping,
    sparse,
    specific,
    static_keys,
    static_map,
    time_window,
    weekly,
)

plugin = Plugin()


def label(context: Context, inputs: Inputs) -> Output:
    """The partition (or range) the call covers, or "-" when unpartitioned."""
    keys = context.partition_keys
    if not keys:
        return Output.text("-")
    if len(keys) == 1:
        return Output.text(keys[0])
    return Output.text(f"{keys[0]}...{keys[-1]}")


def per_key(context: Context, inputs: Inputs) -> PerPartition:
    """One output per key of the call, each its own key: every partition has its own value."""
    return PerPartition({k: Output.text(k) for k in context.partition_keys})


def grid():
    return multi(day=daily("2024-01-01"), region=static_keys(["eu", "us"]))


plugin.asset("src", partitions=daily("2024-01-01"), backfill_policy=BackfillPolicy.multi_run(5))(per_key)
plugin.asset("grid", partitions=grid(), backfill_policy=BackfillPolicy.single_partition())(label)
plugin.asset(
    "by_region", partitions=static_keys(["eu", "us"]), inputs={"grid": multi_to_single("region")}
)(label)
plugin.asset(
    "grid_shifted",
    partitions=grid(),
    inputs={
        "grid": multi_mapping(
            ("day", "day", time_window(-1, 0)),
            ("region", "region", static_map({"eu": ["us"], "us": ["eu"]})),
        )
    },
)(label)
plugin.asset(
    "grid_eu",
    partitions=grid(),
    inputs={"grid": multi_mapping(("day", "day", identity()), ("region", "region", specific(["eu"])))},
)(label)
plugin.asset("firsts", inputs={"src": specific(["2024-01-01", "2024-01-02"])})(label)
plugin.asset(
    "labels",
    partitions=static_keys(["EU", "US"]),
    inputs={"by_region": static_map({"eu": ["EU"], "us": ["US"]})},
)(label)


# Contract 0.3.0: a business calendar, and three dimensions.
plugin.asset(
    "business",
    partitions=daily(
        "2024-01-01",
        exclude=["* * * * 6,0", "2024-01-15", "2024-01-16T00:00"],
    ),
    inputs={"src": None},
)(label)

plugin.asset(
    "cube",
    partitions=multi(
        day=daily("2024-01-01"),
        region=static_keys(["eu", "us"]),
        product=static_keys(["a", "b"]),
    ),
)(label)


# Sparse: each customer's regions every day; combinations held in a dynamic set.
plugin.asset(
    "accounts",
    partitions=sparse(
        Combinations.per_key("customer", "region", {"acme": ["us", "eu"], "bolt": ["eu"]}),
        day=daily("2024-01-01"),
        customer=static_keys(["acme", "bolt"]),
        region=static_keys(["eu", "us"]),
    ),
)(label)

plugin.asset(
    "pairs",
    partitions=sparse(
        Combinations.dynamic(["customer", "region"], "customer_regions"),
        customer=dynamic("customers"),
        region=static_keys(["eu", "us"]),
    ),
)(label)


# A weekly roll-up of the days that waits a day after each week for late days.
plugin.asset(
    "weekly",
    partitions=weekly("2024-01-01"),
    inputs={"src": None},
    rollups={"src": Rollup.wait_until(86400)},
)(label)

# Through a mapping a plugin exports (not loaded here: only declared).
plugin.asset(
    "fiscal",
    partitions=static_keys(["FY2024-P01"]),
    inputs={"src": plugin_mapping("fiscal_445")},
)(label)


@plugin.multi_asset(
    "pair",
    [
        AssetSpec(
            "pair_a",
            partitions=daily("2024-01-01"),
            inputs={"src": None},
            backfill_policy=BackfillPolicy.single_run(),
        ),
        AssetSpec("pair_b", partitions=daily("2024-01-01"), inputs={"src": None}),
    ],
)
def pair(context: Context, inputs: Inputs) -> dict[str, Output]:
    return {asset: Output.text(asset) for asset in context.assets}



def upper(request: MapRequest) -> list[tuple[str, str]]:
    """Region codes upper-cased (`eu` -> `EU`), run by run: the mapping `case` downstream."""
    return [(first.upper(), last.upper()) for first, last in request.ranges]


def lower(request: MapRequest) -> list[tuple[str, str]]:
    """And back upstream."""
    return [(first.lower(), last.lower()) for first, last in request.ranges]


plugin.mapping("case", to_upstream=lower, to_downstream=upper, description="Region codes in either case")


@plugin.check("labelled", asset="src", blocking=True, description="Each day's value is its key")
def labelled(context: CheckContext, values: list[InputPartition]) -> list[CheckResult]:
    """Each value must be its key (as `src` writes them): empty warns, anything else fails;
    every result carries the value's size, the asset checked and the time of the evaluation."""
    results = []
    for v in values:
        meta = {"bytes": len(v.data), "asset": context.asset, "now": context.now}
        if not v.data:
            results.append(CheckResult.warning(v.key, "empty", **meta))
        elif v.data == v.key.encode():
            results.append(CheckResult.passed(v.key, **meta))
        else:
            results.append(CheckResult.failed(v.key, f"wrote {v.text()}", **meta))
    return results


Guest = plugin.guest()
