// `processed_events_as`: the Rust `processed_events` asset written in AssemblyScript with the
// AssemblyScript kit.
//
// It reads `raw_events` (declared by the Rust `processed_events` plugin) for the day and the
// day before, deduplicates the events by id and writes the same JSON document, byte for byte,
// as the Rust asset: keys sorted, no spaces. It also has a sensor that asks for each finished
// day once.

import {
  plugin, asset, sensor, daily, timeWindow, info, dayNumber, dateOf, Kind,
  Context, Inputs, JSONWriter, Output, SensorContext, SensorResult,
} from "./tessera";
export { cabi_realloc, tessera_definitions, tessera_materialize, tessera_evaluate_sensor } from "./tessera";

const CODE_VERSION = "1";

function processedEvents(ctx: Context, inputs: Inputs): Output {
  const date = ctx.partitionKey();
  if (date.length == 0) return Output.invalid("processed_events_as runs one partition at a time");
  const parts = inputs.get("raw_events");
  if (parts.length == 0) return Output.invalid("the call has no input raw_events");
  let received: i64 = 0;
  // The first delivery of each id wins.
  const seen = new Set<string>();
  const byEventDate = new Map<string, i64>();
  let valueSum: i64 = 0;
  for (let p = 0; p < parts.length; p++) {
    const raw = parts[p].json();
    const events = raw != null ? raw.get("events") : null;
    if (events == null || events.kind != Kind.Array) {
      return Output.fail("raw_events[" + parts[p].key + "] is not what processed_events_as reads");
    }
    for (let i = 0; i < events.items.length; i++) {
      const event = events.items[i];
      received++;
      const id = event.getString("id");
      if (seen.has(id)) continue;
      seen.add(id);
      const day = event.getString("event_date");
      byEventDate.set(day, (byEventDate.has(day) ? byEventDate.get(day) : 0) + 1);
      valueSum += <i64>event.getNumber("value");
    }
  }
  const unique = <i64>seen.size;
  const keys = new Array<string>(parts.length);
  for (let p = 0; p < parts.length; p++) keys[p] = parts[p].key;
  info(date + ": " + received.toString() + " events from " + keys.length.toString() + " partitions, " + unique.toString() + " unique");

  // The Rust asset's keys, in the sorted order its serializer writes them.
  const dates = byEventDate.keys().sort();
  const w = new JSONWriter().beginObject().key("by_event_date").beginObject();
  for (let i = 0; i < dates.length; i++) w.key(dates[i]).int(byEventDate.get(dates[i]));
  w.endObject();
  w.key("date").string(date);
  w.key("duplicates").int(received - unique);
  w.key("events_received").int(received);
  w.key("input_partitions").strings(keys);
  w.key("unique_events").int(unique);
  w.key("value_sum").int(valueSum);
  return Output.text(w.endObject().toString()).metadataInt("unique_events", unique);
}

/// Every evaluation asks for the day after the cursor, keyed by that day, until the day before
/// `now`: the host drops a run key it has launched before, so a restart asks for nothing twice.
function nextDay(ctx: SensorContext, result: SensorResult): void {
  const cursor = ctx.cursor;
  const next = cursor != null ? cursor : "2024-01-01";
  const day = dayNumber(next);
  if (day == i64.MIN_VALUE) {
    result.fail('the cursor "' + next + '" is not a day');
    return;
  }
  if ((day + 1) * 86400 > ctx.now) {
    result.skip(next + " is not over yet");
    return;
  }
  result.requestRun(next, ["processed_events_as"], next);
  result.setCursor(dateOf(day + 1));
}

plugin(
  [
    asset("processed_events_as", processedEvents)
      .partitions(daily("2024-01-01"))
      // The first day has no previous day: run with what exists.
      .input("raw_events", timeWindow(-1, 0, true))
      .description("Events of the day and the day before, deduplicated by id (AssemblyScript).")
      .codeVersion(CODE_VERSION),
  ],
  [],
  [
    sensor("processed_events_as_days", nextDay)
      .description("Asks for each finished day of processed_events_as, once.")
      .minimumInterval(60)
      .targets(["processed_events_as"]),
  ],
);
