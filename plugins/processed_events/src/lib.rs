//! `raw_events` and `processed_events`: the seed's incremental-processing pattern.
//!
//! `raw_events` (daily from 2024-01-01) holds the events received on a day: its own events and
//! a re-delivery of the previous day's first event (late, duplicated data). `processed_events`
//! reads the day and the one before (`Mapping::time_window(-1, 0)`) and deduplicates by id.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;
use tessera_sdk::prelude::*;

/// One event as `raw_events` stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// `<event date>#<n>`.
    pub id: String,
    pub event_date: String,
    pub value: u64,
}

/// A `raw_events` partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawEvents {
    pub date: String,
    pub events: Vec<Event>,
}

fn raw_events(ctx: &Context, _inputs: &Inputs) -> Result<Output, PluginError> {
    let date = ctx.partition_key()?;
    let window = ctx.time_window()?;
    // The day before, in the partitions' zone: the date of the last second before the window.
    let previous = tessera_sdk::time::date(window.start - 1, window.start_offset);
    let raw = raw_events_for(date, &previous);
    let count = raw.events.len();
    Ok(Output::json(&raw)?.metadata("events", count))
}

/// The events received on `date`: 3 to 7 of its own, then `<previous>#0` again.
pub fn raw_events_for(date: &str, previous: &str) -> RawEvents {
    let own = 3 + fnv1a(date) % 5;
    let mut events: Vec<Event> = (0..own).map(|i| event(date, i)).collect();
    events.push(event(previous, 0));
    RawEvents {
        date: date.to_string(),
        events,
    }
}

fn event(date: &str, n: u64) -> Event {
    let id = format!("{date}#{n}");
    Event {
        value: fnv1a(&id) % 100,
        id,
        event_date: date.to_string(),
    }
}

fn processed_events(ctx: &Context, inputs: &Inputs) -> Result<Output, PluginError> {
    let date = ctx.partition_key()?;
    let parts: Vec<(String, RawEvents)> = inputs.json("raw_events")?;
    let mut received = 0usize;
    let mut unique: BTreeMap<String, Event> = BTreeMap::new();
    for (_, raw) in &parts {
        for e in &raw.events {
            received += 1;
            unique.entry(e.id.clone()).or_insert_with(|| e.clone());
        }
    }
    let mut by_event_date: BTreeMap<&str, usize> = BTreeMap::new();
    for e in unique.values() {
        *by_event_date.entry(e.event_date.as_str()).or_default() += 1;
    }
    let value_sum: u64 = unique.values().map(|e| e.value).sum();
    let keys: Vec<&str> = parts.iter().map(|(k, _)| k.as_str()).collect();
    tessera_sdk::info!(
        "{date}: {received} events from {keys:?}, {} unique",
        unique.len()
    );
    Ok(Output::json(&json!({
        "date": date,
        "input_partitions": keys,
        "events_received": received,
        "unique_events": unique.len(),
        "duplicates": received - unique.len(),
        "value_sum": value_sum,
        "by_event_date": by_event_date,
    }))?
    .metadata("unique_events", unique.len()))
}

/// FNV-1a: stable across platforms and releases.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

tessera_sdk::plugin! {
    assets: [
        Asset::new("raw_events", raw_events)
            .partitions(Partitions::daily("2024-01-01"))
            .description("Events received per day, late re-deliveries included.")
            .code_version("1"),
        Asset::new("processed_events", processed_events)
            .partitions(Partitions::daily("2024-01-01"))
            // The first day has no previous day: run with what exists.
            .input_mapped(
                "raw_events",
                Mapping::time_window(-1, 0).allow_nonexistent_upstream_partitions(true),
            )
            .description("Events of the day and the day before, deduplicated by id.")
            .code_version("1"),
    ],
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use tessera_sdk::testing;

    use super::*;

    const NOW: &str = "2024-02-01T00:00:00Z";

    fn raw(plugin: &Plugin, key: &str) -> Vec<u8> {
        let run = testing::materialize(plugin, "raw_events")
            .partition(key)
            .now(NOW)
            .run()
            .unwrap();
        run.output("raw_events").unwrap().data().to_vec()
    }

    #[test]
    fn raw_events_redeliver_the_previous_day() {
        let plugin = plugin();
        let day: RawEvents = serde_json::from_slice(&raw(&plugin, "2024-01-15")).unwrap();
        let last = day.events.last().unwrap();
        assert_eq!(last.id, "2024-01-14#0");
        assert_eq!(last.event_date, "2024-01-14");
        let before: RawEvents = serde_json::from_slice(&raw(&plugin, "2024-01-14")).unwrap();
        assert_eq!(&before.events[0], last, "the same event, delivered twice");
        assert!((4..=8).contains(&day.events.len()));
    }

    #[test]
    fn processed_events_deduplicate_over_two_days() {
        let plugin = plugin();
        let run = testing::materialize(&plugin, "processed_events")
            .partition("2024-01-15")
            .now(NOW)
            .input("raw_events", "2024-01-14", raw(&plugin, "2024-01-14"))
            .input("raw_events", "2024-01-15", raw(&plugin, "2024-01-15"))
            .run()
            .unwrap();
        let out: Value = run.json("processed_events").unwrap();
        let d14 = raw_events_for("2024-01-14", "2024-01-13").events.len();
        let d15 = raw_events_for("2024-01-15", "2024-01-14").events.len();
        assert_eq!(out["input_partitions"], json!(["2024-01-14", "2024-01-15"]));
        assert_eq!(out["events_received"], json!(d14 + d15));
        assert_eq!(out["duplicates"], json!(1));
        assert_eq!(out["unique_events"], json!(d14 + d15 - 1));
        assert_eq!(out["by_event_date"]["2024-01-13"], json!(1));
        assert_eq!(out["by_event_date"]["2024-01-15"], json!(d15 - 1));
        assert_eq!(run.logs.len(), 1);
    }

    #[test]
    fn first_day_runs_alone() {
        let plugin = plugin();
        let run = testing::materialize(&plugin, "processed_events")
            .partition("2024-01-01")
            .now(NOW)
            .input("raw_events", "2024-01-01", raw(&plugin, "2024-01-01"))
            .run()
            .unwrap();
        let out: Value = run.json("processed_events").unwrap();
        assert_eq!(out["duplicates"], json!(0));
        assert_eq!(out["by_event_date"]["2023-12-31"], json!(1));
    }

    #[test]
    fn missing_input_is_invalid() {
        let plugin = plugin();
        let err = testing::materialize(&plugin, "processed_events")
            .partition("2024-01-02")
            .now(NOW)
            .run()
            .unwrap_err();
        assert!(matches!(
            err,
            testing::HarnessError::Plugin(PluginError::InvalidInput(_))
        ));
    }

    #[test]
    fn declares_the_window_mapping() {
        testing::check(&plugin()).unwrap();
        let defs = plugin().wit_definitions();
        let input = &defs.computations[1].assets[0].inputs[0];
        assert_eq!(input.asset, "raw_events");
        assert!(input.mapping.is_some());
    }
}
