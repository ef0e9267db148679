// The JavaScript kit declaring what tests/guests/kit_coverage declares with the Rust SDK:
// every definition, mapping, multi-asset and backfill policy the contract allows, and a
// partition mapping and an asset check the plugin exports.
import {
    asset,
    assetSpec,
    backfillPolicy,
    check,
    checkResult,
    combinations,
    daily,
    dynamic,
    identity,
    mapper,
    multi,
    multiAsset,
    multiMapping,
    multiToSingle,
    output,
    perPartition,
    plugin,
    pluginMapping,
    rollup,
    sparse,
    specific,
    staticKeys,
    staticMap,
    timeWindow,
    weekly,
} from "./tessera.js";

function label(context) {
    const keys = context.partitionKeys;
    if (keys.length === 0) return output("-");
    if (keys.length === 1) return output(keys[0]);
    return output(`${keys[0]}...${keys[keys.length - 1]}`);
}

// One output per key of the call, each its own key: every partition has its own value.
function perKey(context) {
    return perPartition(Object.fromEntries(context.partitionKeys.map((k) => [k, output(k)])));
}

// Region codes upper-cased (`eu` -> `EU`), run by run: the mapping `case` downstream; and back.
const upper = (request) => request.ranges.map(([f, l]) => [f.toUpperCase(), l.toUpperCase()]);
const lower = (request) => request.ranges.map(([f, l]) => [f.toLowerCase(), l.toLowerCase()]);

// Each value must be its key (as `src` writes them): empty warns, anything else fails; every
// result carries the value's size, the asset checked and the time of the evaluation.
function labelled(context, values) {
    return values.map(({ key, data, text }) => {
        const result =
            data.length === 0
                ? checkResult.warn(key, "empty")
                : text === key
                  ? checkResult.pass(key)
                  : checkResult.fail(key, `wrote ${text}`);
        return result
            .metadata("bytes", data.length)
            .metadata("asset", context.asset)
            .metadata("now", context.now);
    });
}

function pair(context) {
    return Object.fromEntries(context.assets.map((a) => [a, output(a)]));
}

const grid = () => multi({ day: daily("2024-01-01"), region: staticKeys(["eu", "us"]) });

export const guest = plugin({
    assets: [
        asset("src", perKey).partitions(daily("2024-01-01")).backfillPolicy(backfillPolicy.multiRun(5)),
        asset("grid", label).partitions(grid()).backfillPolicy(backfillPolicy.singlePartition()),
        asset("by_region", label)
            .partitions(staticKeys(["eu", "us"]))
            .input("grid", multiToSingle("region")),
        asset("grid_shifted", label)
            .partitions(grid())
            .input(
                "grid",
                multiMapping([
                    ["day", "day", timeWindow(-1, 0)],
                    ["region", "region", staticMap({ eu: ["us"], us: ["eu"] })],
                ]),
            ),
        asset("grid_eu", label)
            .partitions(grid())
            .input(
                "grid",
                multiMapping([
                    ["day", "day", identity()],
                    ["region", "region", specific(["eu"])],
                ]),
            ),
        asset("firsts", label).input("src", specific(["2024-01-01", "2024-01-02"])),
        asset("labels", label)
            .partitions(staticKeys(["EU", "US"]))
            .input("by_region", staticMap({ eu: ["EU"], us: ["US"] })),
        // Contract 0.3.0: a business calendar, and three dimensions.
        asset("business", label)
            .partitions(
                daily("2024-01-01", {
                    exclude: ["* * * * 6,0", "2024-01-15", "2024-01-16T00:00"],
                }),
            )
            .input("src"),
        asset("cube", label).partitions(
            multi({
                day: daily("2024-01-01"),
                region: staticKeys(["eu", "us"]),
                product: staticKeys(["a", "b"]),
            }),
        ),
        // Sparse: each customer's regions every day; combinations held in a dynamic set.
        asset("accounts", label).partitions(
            sparse(
                {
                    day: daily("2024-01-01"),
                    customer: staticKeys(["acme", "bolt"]),
                    region: staticKeys(["eu", "us"]),
                },
                combinations.perKey("customer", "region", { acme: ["us", "eu"], bolt: ["eu"] }),
            ),
        ),
        asset("pairs", label).partitions(
            sparse(
                { customer: dynamic("customers"), region: staticKeys(["eu", "us"]) },
                combinations.dynamic(["customer", "region"], "customer_regions"),
            ),
        ),
        // A weekly roll-up of the days that waits a day after each week for late days.
        asset("weekly", label)
            .partitions(weekly("2024-01-01"))
            .input("src", undefined, { rollup: rollup.waitUntil(86400) }),
        // Through a mapping a plugin exports (not loaded here: only declared).
        asset("fiscal", label)
            .partitions(staticKeys(["FY2024-P01"]))
            .input("src", pluginMapping("fiscal_445")),
        multiAsset("pair", pair, [
            assetSpec("pair_a")
                .partitions(daily("2024-01-01"))
                .input("src")
                .backfillPolicy(backfillPolicy.singleRun()),
            assetSpec("pair_b").partitions(daily("2024-01-01")).input("src"),
        ]),
    ],
    mappings: [
        mapper("case", { toUpstream: lower, toDownstream: upper }).description(
            "Region codes in either case",
        ),
    ],
    checks: [
        check("labelled", "src", labelled).description("Each day's value is its key").blocking(),
    ],
});
