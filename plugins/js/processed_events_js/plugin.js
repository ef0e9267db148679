// `processed_events_js`: the Rust `processed_events` asset written in JavaScript with the JS kit.
//
// It reads `raw_events` (declared by the Rust `processed_events` plugin) for the day and the
// day before, deduplicates the events by id and writes the same JSON document, byte for byte,
// as the Rust asset: keys sorted, no spaces. It also has a sensor that asks for the days whose
// `raw_events` a later day re-delivered.

import { plugin, asset, sensor, daily, timeWindow, json, log } from "./tessera.js";

const CODE_VERSION = "1";

function processedEvents(context, inputs) {
    const date = context.partitionKey();
    const parts = inputs.json("raw_events");
    let received = 0;
    const unique = new Map();
    for (const { value } of parts) {
        for (const event of value.events) {
            received += 1;
            // The first delivery of each id wins.
            if (!unique.has(event.id)) {
                unique.set(event.id, event);
            }
        }
    }
    const byEventDate = {};
    let valueSum = 0;
    for (const event of unique.values()) {
        byEventDate[event.event_date] = (byEventDate[event.event_date] ?? 0) + 1;
        valueSum += event.value;
    }
    const keys = parts.map((p) => p.key);
    log.info(`${date}: ${received} events from ${JSON.stringify(keys)}, ${unique.size} unique`);
    return json({
        date,
        input_partitions: keys,
        events_received: received,
        unique_events: unique.size,
        duplicates: received - unique.size,
        value_sum: valueSum,
        by_event_date: byEventDate,
    }).metadata("unique_events", unique.size);
}

// Every evaluation asks for the day after the cursor, keyed by that day, until the day before
// `now`: the host drops a run key it has launched before, so a restart asks for nothing twice.
function nextDay(context, result) {
    const day = 86400;
    const next = context.cursor ?? "2024-01-01";
    const nextStart = Date.parse(`${next}T00:00:00Z`) / 1000;
    if (Number.isNaN(nextStart)) {
        throw new Error(`the cursor ${JSON.stringify(next)} is not a day`);
    }
    if (nextStart + day > context.now) {
        result.skip(`${next} is not over yet`);
        return;
    }
    result.requestRun({ runKey: next, assets: ["processed_events_js"], partition: next });
    result.setCursor(new Date((nextStart + day) * 1000).toISOString().slice(0, 10));
}

export const guest = plugin({
    assets: [
        asset("processed_events_js", processedEvents)
            .partitions(daily("2024-01-01"))
            // The first day has no previous day: run with what exists.
            .input("raw_events", timeWindow(-1, 0, { allowNonexistent: true }))
            .description("Events of the day and the day before, deduplicated by id (JavaScript).")
            .codeVersion(CODE_VERSION),
    ],
    sensors: [
        sensor("processed_events_js_days", nextDay)
            .description("Asks for each finished day of processed_events_js, once.")
            .minimumInterval(60)
            .targets("processed_events_js"),
    ],
});
