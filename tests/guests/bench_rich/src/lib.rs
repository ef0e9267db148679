//! `flat_vs_rich_call`'s rich half: the asset `bench` (daily) reads ten inputs and writes 1 KB,
//! over the rich world. `bench_flat` is the same asset over the flat world: the benchmark
//! measures what the JSON documents cost.

wit_bindgen::generate!({
    path: "../../../plugin-sdk/wit",
    world: "plugin",
});

use exports::tessera::plugin::guest::Guest;
use tessera::plugin::types::*;

struct Bench;

/// 1 KB from the inputs' sizes: the same bytes as `bench_flat` writes.
fn value(sizes: &[usize]) -> Vec<u8> {
    let line = format!("{sizes:?}\n");
    line.bytes().cycle().take(1024).collect()
}

impl Guest for Bench {
    fn definitions() -> Definitions {
        Definitions {
            computations: vec![Computation {
                name: "bench".into(),
                assets: vec![AssetDefinition {
                    key: "bench".into(),
                    description: None,
                    partitions: Some(Partitions::Cadence(CadencePartitions {
                        cadence: Cadence::Daily,
                        start: "2024-01-01".into(),
                        end: None,
                        timezone: None,
                        fmt: None,
                        end_offset: 0,
                        minute_offset: 0,
                        hour_offset: 0,
                        day_offset: None,
                        exclusions: None,
                    })),
                    inputs: Vec::new(),
                    code_version: Some("1".into()),
                    metadata: Vec::new(),
                    backfill_policy: None,
                }],
            }],
            sensors: Vec::new(),
        }
    }

    fn materialize(
        context: MaterializeContext,
        inputs: Vec<Input>,
    ) -> Result<Vec<Output>, PluginError> {
        let sizes: Vec<usize> = inputs
            .iter()
            .flat_map(|i| i.partitions.iter().map(|p| p.data.len()))
            .collect();
        Ok(vec![Output {
            asset: context.computation,
            partition: None,
            data: value(&sizes),
            metadata: vec![MetadataEntry {
                key: "inputs".into(),
                value: MetadataValue::Integer(sizes.len() as i64),
            }],
        }])
    }

    fn evaluate_sensor(_: SensorContext) -> Result<SensorResult, PluginError> {
        Err(PluginError::InvalidInput("no sensors".into()))
    }
}

export!(Bench);
