"""`processed_events_py`: the Rust `processed_events` asset written in Python with the Python kit.

It reads `raw_events` (declared by the Rust `processed_events` plugin) for the day and the day
before, deduplicates the events by id and writes the same JSON document, byte for byte, as the
Rust asset: keys sorted, no spaces. It also has a sensor that asks for each finished day.
"""

from datetime import date, timedelta

from tessera import Context, Inputs, Output, Plugin, SensorContext, SensorResult, daily, log, time_window

CODE_VERSION = "1"

plugin = Plugin()


@plugin.asset(
    "processed_events_py",
    partitions=daily("2024-01-01"),
    # The first day has no previous day: run with what exists.
    inputs={"raw_events": time_window(-1, 0, allow_nonexistent=True)},
    description="Events of the day and the day before, deduplicated by id (Python).",
    code_version=CODE_VERSION,
)
def processed_events(context: Context, inputs: Inputs) -> Output:
    day = context.partition_key()
    parts = inputs.json("raw_events")
    received = 0
    unique: dict[str, dict] = {}
    for _, raw in parts:
        for event in raw["events"]:
            received += 1
            # The first delivery of each id wins.
            unique.setdefault(event["id"], event)
    by_event_date: dict[str, int] = {}
    for event in unique.values():
        by_event_date[event["event_date"]] = by_event_date.get(event["event_date"], 0) + 1
    keys = [key for key, _ in parts]
    log.info(f"{day}: {received} events from {keys}, {len(unique)} unique")
    return Output.json(
        {
            "date": day,
            "input_partitions": keys,
            "events_received": received,
            "unique_events": len(unique),
            "duplicates": received - len(unique),
            "value_sum": sum(e["value"] for e in unique.values()),
            "by_event_date": by_event_date,
        },
        unique_events=len(unique),
    )


@plugin.sensor(
    "processed_events_py_days",
    targets=["processed_events_py"],
    minimum_interval_seconds=60,
    description="Asks for each finished day of processed_events_py, once.",
)
def next_day(context: SensorContext, result: SensorResult) -> None:
    # The day after the cursor, keyed by that day, until the day before `now`: the host drops
    # a run key it has launched before, so a restart asks for nothing twice.
    pending = date.fromisoformat(context.cursor or "2024-01-01")
    over = (pending - date(1970, 1, 1)).days * 86400 + 86400
    if over > context.now:
        result.skip(f"{pending} is not over yet")
        return
    result.request_run("processed_events_py", pending.isoformat(), run_key=pending.isoformat())
    result.set_cursor((pending + timedelta(days=1)).isoformat())


Guest = plugin.guest()
