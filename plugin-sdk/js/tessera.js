// The JavaScript kit: declare assets, partitions, mappings and sensors with plain functions, and
// export the result as the component's `guest` interface:
//
//     import { plugin, asset, daily, timeWindow, json } from "./tessera.js";
//     export const guest = plugin({ assets: [asset("hello", compute).partitions(daily("2024-01-01"))] });
//
// `componentize-js` turns the module into a component of the WIT world `plugin-with-mappings`
// (`plugin-sdk/wit/plugin.wit`); the build adds the exports `mappings` and `checks` from this
// file (`component.js`), which serve what `plugin({ mappings, checks })` declared. The WIT's
// records are objects with camelCase fields, variants `{ tag, val }`, `s64` a BigInt,
// `list<u8>` a Uint8Array; this file hides all of that.

import { log as hostLog, dynamicPartitionKeys as hostDynamicKeys } from "tessera:plugin/host@0.4.0";

// ---- errors ---------------------------------------------------------------------------------

/** The inputs or the request are not what the logic accepts: the host will not retry. */
export class InvalidInput extends Error {}

/** The logic failed: the host may retry, per its policy. Any other thrown error counts as this. */
export class Failed extends Error {}

function pluginError(e) {
    if (e instanceof InvalidInput) {
        return { tag: "invalid-input", val: e.message };
    }
    if (e instanceof Failed) {
        return { tag: "failed", val: e.message };
    }
    // An error the plugin did not mean to throw: where it came from helps.
    if (e instanceof Error) {
        return { tag: "failed", val: e.stack ? `${e.message}\n${e.stack}` : e.message };
    }
    return { tag: "failed", val: String(e) };
}

// ---- logging --------------------------------------------------------------------------------

function logAt(level) {
    // Fields: an object of strings (or anything `String()` takes), kept in key order.
    return (message, fields = {}) =>
        hostLog(level, String(message), Object.entries(fields).map(([k, v]) => [k, String(v)]));
}

/** Log lines to the host, which adds the plugin, asset, partition and run. */
export const log = {
    trace: logAt("trace"),
    debug: logAt("debug"),
    info: logAt("info"),
    warn: logAt("warn"),
    error: logAt("error"),
};

/** The current keys of a dynamic partitions set, in insertion order. */
export function dynamicPartitionKeys(name) {
    return hostDynamicKeys(name);
}

// ---- partitions -----------------------------------------------------------------------------

function cadence(kind, start, options = {}) {
    return {
        tag: "cadence",
        val: {
            cadence: kind,
            start,
            end: options.end,
            timezone: options.timezone,
            fmt: options.fmt,
            endOffset: BigInt(options.endOffset ?? 0),
            minuteOffset: options.minuteOffset ?? 0,
            hourOffset: options.hourOffset ?? 0,
            dayOffset: options.dayOffset,
            exclusions: options.exclude?.length ? [...options.exclude] : undefined,
        },
    };
}

/** Options: `end`, `timezone`, `fmt`, `endOffset`, `minuteOffset`. */
export const hourly = (start, options) => cadence("hourly", start, options);
/**
 * Options: `end`, `timezone`, `fmt`, `endOffset`, `minuteOffset`, `hourOffset`, and `exclude`:
 * ticks that are not partitions — `"2024-12-25"` (every tick that local day),
 * `"2024-12-24T13:00"` (the tick at that wall time) or a cron schedule (`"* * * * 6,0"`:
 * weekends). Every cadence and `cron` take `exclude`.
 */
export const daily = (start, options) => cadence("daily", start, options);
/** Options as `daily`, and `dayOffset` (0 = Sunday … 6 = Saturday). */
export const weekly = (start, options) => cadence("weekly", start, options);
/** Options as `daily`, and `dayOffset` (the day of the month). */
export const monthly = (start, options) => cadence("monthly", start, options);

/** Any 5-field cron schedule; `start` (and `end`) written in `fmt`. Options: `end`, `timezone`, `endOffset`, `exclude`. */
export function cron(schedule, start, fmt, options = {}) {
    return {
        tag: "cron",
        val: {
            cronSchedule: schedule,
            start,
            end: options.end,
            timezone: options.timezone,
            fmt,
            endOffset: BigInt(options.endOffset ?? 0),
            exclusions: options.exclude?.length ? [...options.exclude] : undefined,
        },
    };
}

/** Fixed keys, in this order. */
export const staticKeys = (keys) => ({ tag: "static-keys", val: [...keys] });

/** Keys added and removed at run time (by sensors or `tessera dynamic add`). */
export const dynamic = (name) => ({ tag: "dynamic", val: name });

/** 2 to 8 one-dimensional definitions by dimension name: `multi({ date: daily(…), region: staticKeys([…]) })`. */
export function multi(dimensions) {
    return {
        tag: "multi",
        val: Object.entries(dimensions).map(([name, partitions]) => ({ name, partitions })),
    };
}

/** Which combinations of some dimensions of a `sparse` definition exist. */
export const combinations = {
    /** Fixed combinations of static dimensions: `listed(["customer", "region"], [["acme", "eu"]])`. */
    listed: (dimensions, rows) => ({
        combined: [...dimensions],
        source: { tag: "listed", val: [...rows].map((r) => [...r]) },
    }),
    /** The keys of `dependent` that go with each key of `on`: `perKey("customer", "region", { acme: ["eu"] })`. */
    perKey: (on, dependent, keys) => ({
        combined: [on, dependent],
        source: {
            tag: "listed",
            val: Object.entries(keys).flatMap(([k, values]) => [...values].map((v) => [k, v])),
        },
    }),
    /** Combinations held in a dynamic set: keys joined with `|` in dimension-name order. */
    dynamic: (dimensions, set) => ({
        combined: [...dimensions],
        source: { tag: "dynamic", val: set },
    }),
};

/**
 * Only the declared combinations of some dimensions; the others are full:
 * `sparse({ date: daily(…), customer: staticKeys([…]), region: staticKeys([…]) }, combinations.perKey(…))`.
 */
export function sparse(dimensions, combinations) {
    return {
        tag: "sparse-multi",
        val: {
            dimensions: Object.entries(dimensions).map(([name, partitions]) => ({ name, partitions })),
            combined: combinations.combined,
            combinations: combinations.source,
        },
    };
}

// ---- mappings -------------------------------------------------------------------------------

export const identity = () => ({ tag: "identity" });
export const all = () => ({ tag: "all" });
export const last = () => ({ tag: "last" });
export const specific = (keys) => ({ tag: "specific", val: [...keys] });

/** `{ upstreamKey: [downstream keys] }` or `{ upstreamKey: downstreamKey }`. */
export function staticMap(pairs) {
    return {
        tag: "static-map",
        val: Object.entries(pairs).map(([upstream, down]) => ({
            upstream,
            downstream: Array.isArray(down) ? [...down] : [down],
        })),
    };
}

/**
 * The upstream windows overlapping the downstream one, widened by offsets counted in
 * downstream partitions: `timeWindow(-1, 0)` is the partition and the one before.
 * Option `allowNonexistent`: upstream partitions before the start are dropped, not an error.
 */
export function timeWindow(startOffset = 0, endOffset = 0, options = {}) {
    return {
        tag: "time-window",
        val: {
            startOffset: BigInt(startOffset),
            endOffset: BigInt(endOffset),
            allowNonexistentUpstreamPartitions: Boolean(options.allowNonexistent),
        },
    };
}

/** Through a partition mapping a loaded plugin exports, by name (a Rust plugin's `Mapper`). */
export const pluginMapping = (name) => ({ tag: "plugin", val: name });

/** A multi-dimensional side maps to a one-dimensional one through `dimension` (inferred when absent). */
export const multiToSingle = (dimension) => ({ tag: "multi-to-single", val: dimension });

const DIMENSION_MAPPINGS = ["identity", "all", "last", "specific", "static-map", "time-window"];

/**
 * Between two multi-dimensional definitions, one mapping per pair of dimensions:
 * `multiMapping([["date", "date", timeWindow(-1, 0)], ["region", "region", identity()]])`.
 * Each mapping is a one-dimensional one (`identity`, `all`, `last`, `specific`, `staticMap`,
 * `timeWindow`); dimensions not listed depend on every partition.
 */
export function multiMapping(dimensions) {
    return {
        tag: "multi",
        val: dimensions.map(([upstreamDimension, downstreamDimension, mapping]) => {
            if (!mapping || !DIMENSION_MAPPINGS.includes(mapping.tag)) {
                throw new TypeError(
                    `dimensions ${upstreamDimension} -> ${downstreamDimension}: a one-dimensional mapping, not ${JSON.stringify(mapping)}`,
                );
            }
            return { upstreamDimension, downstreamDimension, mapping };
        }),
    };
}

/**
 * How an asset may be run over several partitions (Dagster's `BackfillPolicy`), for
 * `.backfillPolicy(…)`: one partition per run, one run per contiguous range, or runs of at
 * most `max` partitions. Undeclared: as each request asks.
 */
/**
 * When a downstream window runs while some upstream partitions it maps to are missing: only
 * when all exist (the default), `waitUntil(seconds)` after the window's end with what exists
 * then, or with what exists.
 */
export const rollup = {
    waitAll: () => ({ tag: "wait-all" }),
    waitUntil: (seconds) => {
        if (!Number.isInteger(seconds) || seconds < 0) {
            throw new TypeError(`waitUntil: a whole number of seconds, not ${seconds}`);
        }
        return { tag: "wait-until", val: BigInt(seconds) };
    },
    runPartial: () => ({ tag: "run-partial" }),
};

export const backfillPolicy = {
    singlePartition: () => ({ tag: "single-partition" }),
    singleRun: () => ({ tag: "single-run" }),
    multiRun: (max) => {
        if (!Number.isInteger(max) || max < 1 || max > 0xffffffff) {
            throw new TypeError(`multiRun: a whole number of partitions above 0, not ${max}`);
        }
        return { tag: "multi-run", val: max };
    },
};

// ---- metadata -------------------------------------------------------------------------------

function metadataValue(value) {
    if (typeof value === "bigint") {
        return { tag: "integer", val: value };
    }
    if (typeof value === "number") {
        return Number.isInteger(value)
            ? { tag: "integer", val: BigInt(value) }
            : { tag: "float", val: value };
    }
    if (typeof value === "boolean") {
        return { tag: "boolean", val: value };
    }
    if (typeof value === "string") {
        return { tag: "text", val: value };
    }
    return { tag: "json", val: canonicalJson(value) };
}

function metadataEntries(object) {
    return Object.entries(object).map(([key, value]) => ({ key, value: metadataValue(value) }));
}

// ---- JSON -----------------------------------------------------------------------------------

function sortKeys(value) {
    if (Array.isArray(value)) {
        return value.map(sortKeys);
    }
    if (value !== null && typeof value === "object" && !(value instanceof Uint8Array)) {
        const sorted = {};
        for (const key of Object.keys(value).sort()) {
            sorted[key] = sortKeys(value[key]);
        }
        return sorted;
    }
    return value;
}

/**
 * JSON with object keys sorted and no spaces: what `serde_json` writes for a `BTreeMap`, so a
 * JavaScript asset and a Rust one agree byte for byte on the same document.
 */
export function canonicalJson(value) {
    return JSON.stringify(sortKeys(value));
}

// ---- outputs --------------------------------------------------------------------------------

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** What an asset function returns: bytes and metadata. */
export class Output {
    constructor(data) {
        this.data = typeof data === "string" ? encoder.encode(data) : data;
        this.meta = {};
    }

    /** Attaches metadata: numbers, strings, booleans, or anything JSON. */
    metadata(key, value) {
        this.meta[key] = value;
        return this;
    }
}

/** An output of bytes (a Uint8Array) or text (a string, written as UTF-8). */
export const output = (data) => new Output(data);

/** An output of `value` as canonical JSON (`canonicalJson`). */
export const json = (value) => new Output(canonicalJson(value));

/** One output per partition key of a run over several; see `perPartition`. */
class PerPartition {
    constructor(entries) {
        this.entries = entries instanceof Map ? [...entries] : Object.entries(entries);
    }
}

/**
 * What a run over several partitions returns to give every partition its own value (and data
 * version): `perPartition({ [key]: output, … })` (or a Map) with every key of
 * `context.partitionKeys`. Downstream partitions then receive exactly the keys their mapping
 * names; a plain output covers the whole range and reaches them whole.
 */
export const perPartition = (entries) => new PerPartition(entries);

function toOutputs(asset, value) {
    if (value instanceof PerPartition) {
        return value.entries.map(([key, v]) => toOutput(asset, v, key));
    }
    return [toOutput(asset, value, undefined)];
}

function toOutput(asset, value, partition) {
    const out = value instanceof Output ? value : new Output(value);
    if (!(out.data instanceof Uint8Array)) {
        throw new Failed(
            `${asset}: an asset returns an Output, a string or a Uint8Array, not ${typeof out.data}`,
        );
    }
    return { asset, partition, data: out.data, metadata: metadataEntries(out.meta) };
}

// ---- what an asset function reads ---------------------------------------------------------

/** The partition selection, the time window and the run, for one call. */
export class Context {
    constructor(raw) {
        this.computation = raw.computation;
        /** The assets to produce. */
        this.assets = raw.assets;
        /** Every key of the selection, in order (none when unpartitioned). */
        this.partitionKeys = raw.partitionKeys;
        this.runId = raw.runId;
        /** 1 for the first try. */
        this.attempt = raw.attempt;
        /** Unix seconds. */
        this.now = Number(raw.now);
        this.selection = raw.partition;
        const w = raw.timeWindow;
        /** `{ start, end, startOffset, endOffset }`: Unix seconds, half open, UTC offsets in seconds; undefined unless time-window partitioned. */
        this.timeWindow = w && {
            start: Number(w.start),
            end: Number(w.end),
            startOffset: w.startUtcOffset,
            endOffset: w.endUtcOffset,
        };
    }

    /** The one partition key of the call; InvalidInput for a range or an unpartitioned call. */
    partitionKey() {
        if (this.selection.tag === "range") {
            throw new InvalidInput(`${this.computation} runs one partition at a time, not a range`);
        }
        if (this.selection.tag !== "key") {
            throw new InvalidInput(`${this.computation} is not partitioned`);
        }
        return this.selection.val;
    }

    /** `[start, end]` of a range selection, both included; a single key is a range of one. */
    partitionKeyRange() {
        if (this.selection.tag === "key") {
            return [this.selection.val, this.selection.val];
        }
        if (this.selection.tag === "range") {
            return [this.selection.val.start, this.selection.val.end];
        }
        throw new InvalidInput(`${this.computation} is not partitioned`);
    }
}

/** The upstream partitions of each input, as `{ key, data }` with `data` a Uint8Array. */
export class Inputs {
    constructor(raw) {
        this.byAsset = new Map(raw.map((input) => [input.asset, input.partitions]));
    }

    /** Every partition of the input `asset`; InvalidInput when the host sent none. */
    get(asset) {
        const parts = this.byAsset.get(asset);
        if (parts === undefined || parts.length === 0) {
            throw new InvalidInput(`no partitions of input ${asset}`);
        }
        return parts;
    }

    /** Each partition's data as text: `[{ key, text }]`. */
    text(asset) {
        return this.get(asset).map(({ key, data }) => ({ key, text: decodeText(asset, key, data) }));
    }

    /** Each partition's data parsed as JSON: `[{ key, value }]`. */
    json(asset) {
        return this.get(asset).map(({ key, data }) => {
            try {
                return { key, value: JSON.parse(decodeText(asset, key, data)) };
            } catch (e) {
                if (e instanceof InvalidInput) {
                    throw e;
                }
                throw new InvalidInput(`${asset}[${key}] is not JSON: ${e.message}`);
            }
        });
    }

    /** The input's one partition parsed as JSON (an unpartitioned upstream, or identity). */
    singleJson(asset) {
        const parts = this.json(asset);
        if (parts.length !== 1) {
            throw new InvalidInput(`${asset}: one partition expected, got ${parts.length}`);
        }
        return parts[0].value;
    }
}

function decodeText(asset, key, data) {
    try {
        return decoder.decode(data);
    } catch {
        throw new InvalidInput(`${asset}[${key}] is not UTF-8`);
    }
}

// ---- declarations ---------------------------------------------------------------------------

class AssetSpec {
    constructor(key) {
        this.key = key;
        this.def = {
            key,
            description: undefined,
            partitions: undefined,
            inputs: [],
            codeVersion: undefined,
            metadata: [],
            backfillPolicy: undefined,
        };
    }

    partitions(partitions) {
        this.def.partitions = partitions;
        return this;
    }

    /**
     * An upstream asset. `mapping` (from `timeWindow`, `identity`, …) is inferred when absent.
     * Option `allowMissing`: run even when some mapped upstream partitions are missing.
     * Option `rollup` (from `rollup`): when a window runs while some are missing.
     */
    input(asset, mapping, options = {}) {
        this.def.inputs.push({
            asset,
            mapping,
            allowMissing: Boolean(options.allowMissing),
            rollup: options.rollup,
        });
        return this;
    }

    description(text) {
        this.def.description = text;
        return this;
    }

    /** Changes when the logic changes; the plugin's content hash when never set. */
    codeVersion(version) {
        this.def.codeVersion = version;
        return this;
    }

    metadata(key, value) {
        this.def.metadata.push({ key, value: metadataValue(value) });
        return this;
    }

    /** How it may be run over several partitions: `backfillPolicy.multiRun(5)`, … */
    backfillPolicy(policy) {
        this.def.backfillPolicy = policy;
        return this;
    }
}

class AssetDecl extends AssetSpec {
    constructor(key, compute) {
        super(key);
        this.compute = compute;
    }
}

/**
 * One asset computed by `compute(context, inputs)`, which returns an `Output` (or a string or
 * Uint8Array) and throws `InvalidInput` or `Failed` (or any error) when it cannot.
 */
export const asset = (key, compute) => new AssetDecl(key, compute);

/** An asset of a multi-asset computation: declared like `asset`, computed by the computation. */
export const assetSpec = (key) => new AssetSpec(key);

class MultiAssetDecl {
    constructor(name, compute, specs) {
        this.name = name;
        this.compute = compute;
        this.specs = specs;
    }
}

/**
 * One function producing several assets, which share one partitions definition:
 * `compute(context, inputs)` returns `{ assetKey: Output, … }` for the assets in
 * `context.assets`.
 */
export const multiAsset = (name, compute, specs) => new MultiAssetDecl(name, compute, specs);

// ---- sensors --------------------------------------------------------------------------------

/** What a sensor evaluation returns; filled in by the sensor function. */
export class SensorResult {
    constructor() {
        this.runRequests = [];
        this.skipReason = undefined;
        this.cursor = undefined;
        this.dynamicPartitions = [];
    }

    /**
     * Asks for a run of `assets` (a key or a list) for `partition` (a key, `{ start, end }`, or
     * undefined when unpartitioned). A `runKey` the host has launched before is dropped.
     */
    requestRun({ runKey, assets, partition, tags = {} }) {
        let selection;
        if (partition === undefined || partition === null) {
            selection = { tag: "none" };
        } else if (typeof partition === "string") {
            selection = { tag: "key", val: partition };
        } else {
            selection = { tag: "range", val: { start: partition.start, end: partition.end } };
        }
        this.runRequests.push({
            runKey,
            assets: Array.isArray(assets) ? [...assets] : [assets],
            partition: selection,
            tags: Object.entries(tags).map(([key, value]) => ({ key, value: String(value) })),
        });
        return this;
    }

    /** The cursor the next evaluation reads; left unset, the current one stays. */
    setCursor(cursor) {
        this.cursor = String(cursor);
        return this;
    }

    /** Says why there is nothing to do. */
    skip(reason) {
        this.skipReason = reason;
        return this;
    }

    /** Adds keys to a dynamic partitions set, before the run requests are checked. */
    addDynamicPartitions(name, keys) {
        this.dynamicPartitions.push({ name, add: [...keys], delete: [] });
        return this;
    }

    /** Removes keys from a dynamic partitions set. */
    deleteDynamicPartitions(name, keys) {
        this.dynamicPartitions.push({ name, add: [], delete: [...keys] });
        return this;
    }
}

class SensorDecl {
    constructor(name, evaluate) {
        this.def = { name, description: undefined, minimumIntervalSeconds: 30, targets: [] };
        this.evaluate = evaluate;
    }

    description(text) {
        this.def.description = text;
        return this;
    }

    /** Seconds between evaluations, at least (30 when never set). */
    minimumInterval(seconds) {
        this.def.minimumIntervalSeconds = seconds;
        return this;
    }

    /** The assets its run requests may target. */
    targets(...assets) {
        this.def.targets.push(...assets.flat());
        return this;
    }
}

/**
 * A sensor: `evaluate(context, result)` reads `context.cursor` (a string or undefined),
 * `context.lastEvaluation` and `context.now` (Unix seconds), and fills in the `SensorResult`.
 */
export const sensor = (name, evaluate) => new SensorDecl(name, evaluate);

// ---- partition mappings and asset checks this plugin exports -----------------------------

class MapperDecl {
    constructor(name, toUpstream, toDownstream) {
        this.def = { name, description: undefined };
        this.toUpstream = toUpstream;
        this.toDownstream = toDownstream;
    }

    description(text) {
        this.def.description = text;
        return this;
    }
}

/**
 * A partition mapping this plugin exports (a fiscal calendar, "the last complete week of the
 * month"), by a name unique among the loaded plugins: inputs of any plugin read through it with
 * `pluginMapping(name)`. One function per direction, each given a request
 * `{ mapping, direction, upstreamAsset, downstreamAsset, ranges }` whose `ranges` are runs of
 * keys `[first, last]` (inclusive, in key order) of one side, and returning runs of keys of the
 * other the same way. The host checks the answers and refuses a mapping whose keys the other
 * side does not have, or whose answers do not map back onto what was asked:
 * `mapper("fiscal_445", { toUpstream: daysOfPeriods, toDownstream: periodsOfDays })`.
 */
export const mapper = (name, { toUpstream, toDownstream }) =>
    new MapperDecl(name, toUpstream, toDownstream);

class CheckDecl {
    constructor(name, asset, evaluate) {
        this.def = { name, asset, description: undefined, blocking: false };
        this.evaluate = evaluate;
    }

    description(text) {
        this.def.description = text;
        return this;
    }

    /** A partition failing it stops the downstream partitions that read it from running. */
    blocking() {
        this.def.blocking = true;
        return this;
    }
}

/**
 * A check on one of this plugin's assets, evaluated by the host per partition right after each
 * materialization: `evaluate(context, values)` gets `{ check, asset, now }` and the values just
 * written as `[{ key, data, text }]` (`text` decodes `data` as UTF-8), and returns one
 * `checkResult` per key given.
 */
export const check = (name, asset, evaluate) => new CheckDecl(name, asset, evaluate);

class CheckResultDecl {
    constructor(partition, outcome, description) {
        this.partition = partition;
        this.outcome = outcome;
        this.description = description;
        this.meta = {};
    }

    /** Attaches metadata, as on an Output. */
    metadata(key, value) {
        this.meta[key] = value;
        return this;
    }
}

/** One partition's result: `checkResult.pass(key)`, `.warn(key, why)`, `.fail(key, why)`. */
export const checkResult = {
    pass: (key) => new CheckResultDecl(key, "pass", undefined),
    warn: (key, description) => new CheckResultDecl(key, "warn", String(description)),
    fail: (key, description) => new CheckResultDecl(key, "fail", String(description)),
};

// What `plugin(...)` declared, for the exports `mappings` and `checks` below.
const exported = { mappings: new Map(), checks: new Map() };

/**
 * The component's `mappings` export. The build exports it beside the plugin module's `guest`,
 * so a plugin declares its mappings in `plugin({ mappings })` and never exports this itself.
 */
export const mappings = {
    declaredMappings() {
        return [...exported.mappings.values()].map((m) => m.def);
    },

    mapPartitions(request) {
        const decl = exported.mappings.get(request.mapping);
        if (decl === undefined) {
            throw { tag: "invalid-input", val: `no mapping ${request.mapping}` };
        }
        try {
            const map = request.direction === "to-upstream" ? decl.toUpstream : decl.toDownstream;
            const answer = map({
                mapping: request.mapping,
                direction: request.direction,
                upstreamAsset: request.upstreamAsset,
                downstreamAsset: request.downstreamAsset,
                ranges: request.ranges.map((r) => [r.first, r.last]),
            });
            return [...answer].map(([first, last]) => ({ first: String(first), last: String(last) }));
        } catch (e) {
            throw pluginError(e);
        }
    },
};

/** The component's `checks` export, like `mappings`: declare checks in `plugin({ checks })`. */
export const checks = {
    declaredChecks() {
        return [...exported.checks.values()].map((c) => c.def);
    },

    evaluateCheck(rawContext, values) {
        const decl = exported.checks.get(rawContext.check);
        if (decl === undefined) {
            throw { tag: "invalid-input", val: `no check ${rawContext.check}` };
        }
        try {
            const given = values.map(({ key, data }) => ({
                key,
                data,
                get text() {
                    return decodeText(rawContext.asset, key, data);
                },
            }));
            const results = decl.evaluate(
                { check: rawContext.check, asset: rawContext.asset, now: Number(rawContext.now) },
                given,
            );
            return [...results].map((r) => {
                if (!(r instanceof CheckResultDecl)) {
                    throw new Failed(`check ${rawContext.check} returns checkResult.pass/warn/fail, not ${r}`);
                }
                return {
                    partition: r.partition,
                    outcome: r.outcome,
                    description: r.description,
                    metadata: metadataEntries(r.meta),
                };
            });
        } catch (e) {
            throw pluginError(e);
        }
    },
};

// ---- the plugin -----------------------------------------------------------------------------

/**
 * The component's `guest` export from the plugin's assets and sensors, and the partition
 * mappings and asset checks it exports:
 * `export const guest = plugin({ assets: [...], sensors: [...], mappings: [...], checks: [...] })`.
 */
export function plugin({ assets = [], sensors = [], mappings = [], checks = [] }) {
    for (const m of mappings) {
        if (!(m instanceof MapperDecl)) {
            throw new Error(`plugin({ mappings }) takes mapper(...), not ${m}`);
        }
        exported.mappings.set(m.def.name, m);
    }
    for (const c of checks) {
        if (!(c instanceof CheckDecl)) {
            throw new Error(`plugin({ checks }) takes check(...), not ${c}`);
        }
        exported.checks.set(c.def.name, c);
    }
    const computations = new Map();
    for (const decl of assets) {
        if (decl instanceof MultiAssetDecl) {
            computations.set(decl.name, {
                compute: decl.compute,
                multi: true,
                defs: decl.specs.map((s) => s.def),
            });
        } else if (decl instanceof AssetDecl) {
            computations.set(decl.key, { compute: decl.compute, multi: false, defs: [decl.def] });
        } else {
            throw new Error(`plugin({ assets }) takes asset(...) and multiAsset(...), not ${decl}`);
        }
    }
    const sensorsByName = new Map(sensors.map((s) => [s.def.name, s]));

    return {
        definitions() {
            return {
                computations: [...computations].map(([name, c]) => ({ name, assets: c.defs })),
                sensors: sensors.map((s) => s.def),
            };
        },

        materialize(rawContext, rawInputs) {
            const computation = computations.get(rawContext.computation);
            if (computation === undefined) {
                throw { tag: "invalid-input", val: `no computation ${rawContext.computation}` };
            }
            try {
                const context = new Context(rawContext);
                const result = computation.compute(context, new Inputs(rawInputs));
                if (!computation.multi) {
                    return toOutputs(computation.defs[0].key, result);
                }
                return context.assets
                    .filter((a) => result[a] !== undefined)
                    .flatMap((a) => toOutputs(a, result[a]));
            } catch (e) {
                throw pluginError(e);
            }
        },

        evaluateSensor(rawContext) {
            const decl = sensorsByName.get(rawContext.sensor);
            if (decl === undefined) {
                throw { tag: "invalid-input", val: `no sensor ${rawContext.sensor}` };
            }
            try {
                const result = new SensorResult();
                decl.evaluate(
                    {
                        sensor: rawContext.sensor,
                        cursor: rawContext.cursor,
                        lastEvaluation:
                            rawContext.lastEvaluation === undefined
                                ? undefined
                                : Number(rawContext.lastEvaluation),
                        now: Number(rawContext.now),
                    },
                    result,
                );
                return {
                    runRequests: result.runRequests,
                    skipReason: result.skipReason,
                    cursor: result.cursor,
                    dynamicPartitions: result.dynamicPartitions,
                };
            } catch (e) {
                throw pluginError(e);
            }
        },
    };
}
