//! `late_data_processor`: the seed's late-arriving-data pattern. Daily from 2024-01-01; reads
//! `raw_events` (from the `processed_events` plugin) with a two-day lookback,
//! `Mapping::time_window(-2, 0)`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::json;
use tessera_sdk::prelude::*;

/// The part of a `raw_events` partition this plugin reads.
#[derive(Debug, Deserialize)]
struct RawEvents {
    events: Vec<Event>,
}

#[derive(Debug, Deserialize)]
struct Event {
    id: String,
    event_date: String,
    value: u64,
}

fn late_data_processor(ctx: &Context, inputs: &Inputs) -> Result<Output, PluginError> {
    let date = ctx.partition_key()?;
    let mut parts: Vec<(String, RawEvents)> = inputs.json("raw_events")?;
    parts.sort_by(|a, b| a.0.cmp(&b.0));
    // First arrival of each event, in partition order.
    let mut first: BTreeMap<String, (String, Event)> = BTreeMap::new();
    for (key, raw) in parts.iter_mut() {
        for e in raw.events.drain(..) {
            first
                .entry(e.id.clone())
                .or_insert_with(|| (key.clone(), e));
        }
    }
    // Late: first seen in a partition after its own date.
    let late = first
        .values()
        .filter(|(arrived, e)| e.event_date < *arrived)
        .count();
    let mut by_event_date: BTreeMap<&str, (usize, u64)> = BTreeMap::new();
    for (_, e) in first.values() {
        let entry = by_event_date.entry(e.event_date.as_str()).or_default();
        entry.0 += 1;
        entry.1 += e.value;
    }
    let (events_for_date, value_for_date) = by_event_date.get(date).copied().unwrap_or_default();
    let keys: Vec<&str> = parts.iter().map(|(k, _)| k.as_str()).collect();
    if late > 0 {
        tessera_sdk::warn!("{date}: {late} late events in {keys:?}");
    }
    let counts: BTreeMap<&str, usize> = by_event_date.iter().map(|(d, (n, _))| (*d, *n)).collect();
    Ok(Output::json(&json!({
        "date": date,
        "lookback_days": 2,
        "input_partitions": keys,
        "unique_events": first.len(),
        "late_arrivals": late,
        "events_for_date": events_for_date,
        "value_for_date": value_for_date,
        "events_by_date": counts,
    }))?
    .metadata("late_arrivals", late))
}

tessera_sdk::plugin! {
    assets: [
        Asset::new("late_data_processor", late_data_processor)
            .partitions(Partitions::daily("2024-01-01"))
            .input_mapped(
                "raw_events",
                Mapping::time_window(-2, 0).allow_nonexistent_upstream_partitions(true),
            )
            .description("Events with a two-day lookback for late arrivals.")
            .code_version("1"),
    ],
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use tessera_sdk::testing;

    use super::*;

    fn raw(date: &str, events: &[(&str, &str, u64)]) -> Vec<u8> {
        let events: Vec<Value> = events
            .iter()
            .map(|(id, d, v)| json!({ "id": id, "event_date": d, "value": v }))
            .collect();
        serde_json::to_vec(&json!({ "date": date, "events": events })).unwrap()
    }

    #[test]
    fn three_days_with_a_late_event() {
        let plugin = plugin();
        let run = testing::materialize(&plugin, "late_data_processor")
            .partition("2024-01-15")
            .now("2024-02-01T00:00:00Z")
            // Given out of order: the plugin sorts by key.
            .input(
                "raw_events",
                "2024-01-15",
                raw(
                    "2024-01-15",
                    &[("15#0", "2024-01-15", 5), ("14#0", "2024-01-14", 4)],
                ),
            )
            .input(
                "raw_events",
                "2024-01-13",
                raw(
                    "2024-01-13",
                    &[("13#0", "2024-01-13", 3), ("12#0", "2024-01-12", 2)],
                ),
            )
            .input(
                "raw_events",
                "2024-01-14",
                raw(
                    "2024-01-14",
                    &[("14#0", "2024-01-14", 4), ("15#1", "2024-01-15", 7)],
                ),
            )
            .run()
            .unwrap();
        let out: Value = run.json("late_data_processor").unwrap();
        assert_eq!(
            out,
            json!({
                "date": "2024-01-15",
                "lookback_days": 2,
                "input_partitions": ["2024-01-13", "2024-01-14", "2024-01-15"],
                "unique_events": 5,
                "late_arrivals": 1,
                "events_for_date": 2,
                "value_for_date": 12,
                "events_by_date": { "2024-01-12": 1, "2024-01-13": 1, "2024-01-14": 1, "2024-01-15": 2 },
            })
        );
        assert_eq!(run.logs.len(), 1, "one warning for the late event");
    }

    #[test]
    fn declares_a_two_day_lookback() {
        testing::check(&plugin()).unwrap();
        let defs = plugin().wit_definitions();
        let input = &defs.computations[0].assets[0].inputs[0];
        assert_eq!(input.asset, "raw_events");
        let Some(tessera_sdk::bindings::wit::PartitionMapping::TimeWindow(m)) = &input.mapping
        else {
            panic!("not a time-window mapping");
        };
        assert_eq!((m.start_offset, m.end_offset), (-2, 0));
    }
}
