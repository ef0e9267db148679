//! Fuzz target for what plugins hand the host: their definitions (read from the flat world's
//! JSON, which is also the rich world's records in serde form, then validated as either
//! world's are), their outputs, sensor results and errors.
//!
//! Inputs are real plugins' definitions (`fuzz_data/`, printed by `tessera plugin inspect
//! --json` from the example plugins and the kit-coverage guest) with values replaced, removed,
//! added and retyped, and arbitrary text. The target must return for every input, accepted or
//! refused, without panicking; what it accepts must read back the same after being written.
//! `cargo test` runs `TESSERA_FUZZ_CASES` cases (256 unless set); the long run is in the
//! README's "Fuzzing".

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use serde_json::{Value, json};

use crate::bindings::types as wit;
use crate::config::Limits;
use crate::{convert, flat};

const SAMPLES: [&str; 4] = [
    include_str!("fuzz_data/kit_coverage.json"),
    include_str!("fuzz_data/trading_calendar.json"),
    include_str!("fuzz_data/customer_metrics.json"),
    include_str!("fuzz_data/fiscal_calendar.json"),
];

/// What a materialization returns, in the flat world's form.
const OUTPUTS: &str = r#"[{"asset":"a","partition":"2024-01-01","metadata":[{"key":"rows","value":{"Integer":3}},{"key":"note","value":{"Text":"ok"}}]},{"asset":"b","partition":null}]"#;

fn config() -> Config {
    Config {
        cases: tessera_tests::fuzz_cases(),
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..Config::default()
    }
}

/// One change to a JSON document, at the `at`-th value in document order.
#[derive(Debug, Clone)]
enum Edit {
    Replace(Value),
    Remove,
    AddField(String, Value),
    Duplicate,
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        proptest::sample::select(vec![
            -1i64,
            0,
            1,
            24,
            60,
            i64::from(i32::MAX),
            i64::from(u32::MAX),
        ])
        .prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,12}".prop_map(Value::from),
        proptest::sample::select(vec![
            "",
            "Daily",
            "Hourly",
            "Weekly",
            "Monthly",
            "2024-01-01",
            "2024-13-45",
            "25:00",
            "Europe/Berlin",
            "Mars/Olympus",
            "%Y-%m-%d",
            "%Q",
            "0 0 * * *",
            "* * *",
            "a...b",
            "Cadence",
            "Static",
            "Dynamic",
            "Multi",
            "SinglePartition",
            "x|y",
        ])
        .prop_map(Value::from),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => scalar().prop_map(Edit::Replace),
        1 => Just(Edit::Replace(json!([]))),
        1 => Just(Edit::Replace(json!({}))),
        2 => Just(Edit::Remove),
        1 => ("[a-z_]{1,10}", scalar()).prop_map(|(k, v)| Edit::AddField(k, v)),
        1 => Just(Edit::Duplicate),
    ]
}

/// Applies `edit` to the `at`-th value (depth first) of `doc`; returns whether it found it.
fn apply(doc: &mut Value, at: &mut usize, edit: &Edit) -> bool {
    if *at == 0 {
        match edit {
            Edit::Replace(v) => *doc = v.clone(),
            Edit::AddField(k, v) => {
                if let Value::Object(map) = doc {
                    map.insert(k.clone(), v.clone());
                }
            }
            Edit::Duplicate => {
                if let Value::Array(items) = doc
                    && let Some(first) = items.first().cloned()
                {
                    items.push(first);
                }
            }
            // Removal happens in the parent.
            Edit::Remove => {}
        }
        return true;
    }
    *at -= 1;
    match doc {
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                if *at == 0 && matches!(edit, Edit::Remove) {
                    map.remove(&k);
                    return true;
                }
                if let Some(child) = map.get_mut(&k)
                    && apply(child, at, edit)
                {
                    return true;
                }
            }
            false
        }
        Value::Array(items) => {
            for i in 0..items.len() {
                if *at == 0 && matches!(edit, Edit::Remove) {
                    items.remove(i);
                    return true;
                }
                if apply(&mut items[i], at, edit) {
                    return true;
                }
            }
            false
        }
        _ => false,
    }
}

fn definitions_text() -> impl Strategy<Value = String> {
    let edited = (
        0..=SAMPLES.len(),
        proptest::collection::vec((any::<prop::sample::Index>(), edit()), 1..4),
    )
        .prop_map(|(sample, edits)| {
            let text = SAMPLES.get(sample).copied().unwrap_or(OUTPUTS);
            let mut doc: Value = serde_json::from_str(text).unwrap_or(Value::Null);
            for (at, e) in edits {
                let size = count(&doc);
                let mut at = at.index(size.max(1));
                apply(&mut doc, &mut at, &e);
            }
            doc.to_string()
        });
    prop_oneof![
        8 => edited,
        1 => "\\PC{0,40}",
        1 => proptest::sample::select(SAMPLES.to_vec()).prop_map(|s| {
            // Cut anywhere: a document that ends early.
            let cut = s.len() / 3;
            s.get(..cut).unwrap_or(s).to_string()
        }),
    ]
}

fn count(v: &Value) -> usize {
    1 + match v {
        Value::Object(m) => m.values().map(count).sum(),
        Value::Array(a) => a.iter().map(count).sum(),
        _ => 0,
    }
}

/// The target: the host reads and validates a plugin's documents, whatever they hold.
fn plugin_documents(text: &str) {
    if let Ok(defs) = flat::read::<wit::Definitions>("definitions", text) {
        // What is read writes back and reads again as the same.
        let written = flat::write(&defs).expect("read definitions write");
        let again = flat::read::<wit::Definitions>("definitions", &written)
            .unwrap_or_else(|e| panic!("{written}: {e}"));
        assert_eq!(
            serde_json::to_value(&defs).ok(),
            serde_json::to_value(&again).ok()
        );
        let _ = convert::definitions(defs, &Limits::default());
    }
    let _ = flat::outputs(text, vec![b"x".to_vec(); 3]);
    let _ = flat::read::<wit::SensorResult>("sensor-result", text);
    let _ = flat::read::<wit::PluginError>("plugin-error", text);
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn fuzz_plugin_documents(text in definitions_text()) {
        plugin_documents(&text);
    }
}

#[test]
fn the_samples_are_valid_definitions() {
    for sample in SAMPLES {
        let defs = flat::read::<wit::Definitions>("definitions", sample).unwrap();
        convert::definitions(defs, &Limits::default()).unwrap();
    }
    assert_eq!(
        flat::outputs(OUTPUTS, vec![Vec::new(); 2]).unwrap().len(),
        2
    );
}
