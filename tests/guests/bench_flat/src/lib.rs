//! `flat_vs_rich_call`'s flat half: the asset `bench` of `bench_rich`, over the flat world. It
//! reads the context and inputs documents with `serde_json` and writes its outputs document,
//! as a plugin in a language without component-model bindings would.

wit_bindgen::generate!({
    path: "../../../plugin-sdk/wit",
    world: "plugin-flat",
});

use exports::tessera::plugin::flat_guest::Guest;
use serde_json::{Value, json};

struct Bench;

/// 1 KB from the inputs' sizes: the same bytes as `bench_rich` writes.
fn value(sizes: &[usize]) -> Vec<u8> {
    let line = format!("{sizes:?}\n");
    line.bytes().cycle().take(1024).collect()
}

impl Guest for Bench {
    fn definitions() -> String {
        json!({
            "computations": [{"name": "bench", "assets": [{
                "key": "bench", "inputs": [], "metadata": [], "code_version": "1",
                "partitions": {"Cadence": {"cadence": "Daily", "start": "2024-01-01",
                    "end_offset": 0, "minute_offset": 0, "hour_offset": 0}}}]}],
            "sensors": []
        })
        .to_string()
    }

    fn materialize(
        context: String,
        inputs: String,
        data: Vec<Vec<u8>>,
    ) -> Result<(String, Vec<Vec<u8>>), String> {
        let context: Value = serde_json::from_str(&context).map_err(|e| e.to_string())?;
        let inputs: Value = serde_json::from_str(&inputs).map_err(|e| e.to_string())?;
        let keys: usize = inputs
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|i| i["partitions"].as_array().map_or(0, Vec::len))
                    .sum()
            })
            .unwrap_or(0);
        let sizes: Vec<usize> = data.iter().take(keys).map(Vec::len).collect();
        let outputs = json!([{
            "asset": context["computation"],
            "metadata": [{"key": "inputs", "value": {"Integer": sizes.len()}}],
        }]);
        Ok((outputs.to_string(), vec![value(&sizes)]))
    }

    fn evaluate_sensor(_: String) -> Result<String, String> {
        Err(json!({"InvalidInput": "no sensors"}).to_string())
    }
}

export!(Bench);
