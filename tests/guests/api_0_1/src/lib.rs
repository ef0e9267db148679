//! A plugin built against the frozen contract 0.1.0 (`plugin-sdk/wit-0.1.0`) with bare
//! `wit-bindgen`, as a plugin built before 0.2.0 was: the host must keep loading and running
//! it. A daily asset whose backfill policy is metadata (0.1.0 has no field for it), one
//! output per call (0.1.0 has no per-key outputs), a log line through `host@0.1.0`, and a
//! sensor.

wit_bindgen::generate!({
    path: "../../../plugin-sdk/wit-0.1.0",
    world: "plugin",
});

use exports::tessera::plugin::guest::Guest;
use tessera::plugin::host;
use tessera::plugin::types::*;

struct Legacy;

impl Guest for Legacy {
    fn definitions() -> Definitions {
        Definitions {
            computations: vec![Computation {
                name: "legacy_daily".into(),
                assets: vec![AssetDefinition {
                    key: "legacy_daily".into(),
                    description: Some("built against contract 0.1.0".into()),
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
                    })),
                    inputs: Vec::new(),
                    code_version: Some("1".into()),
                    metadata: vec![MetadataEntry {
                        key: "backfill_policy".into(),
                        value: MetadataValue::Text("multi_run:3".into()),
                    }],
                }],
            }],
            sensors: vec![SensorDefinition {
                name: "legacy_sensor".into(),
                description: None,
                minimum_interval_seconds: 1,
                targets: vec!["legacy_daily".into()],
            }],
        }
    }

    fn materialize(
        context: MaterializeContext,
        _inputs: Vec<Input>,
    ) -> Result<Vec<Output>, PluginError> {
        host::log(
            host::LogLevel::Info,
            "legacy materialize",
            &[("keys".into(), context.partition_keys.len().to_string())],
        );
        let label = match context.partition_keys.as_slice() {
            [] => String::new(),
            [one] => one.clone(),
            [first, .., last] => format!("{first}...{last}"),
        };
        Ok(vec![Output {
            asset: "legacy_daily".into(),
            data: format!("legacy {label}").into_bytes(),
            metadata: vec![MetadataEntry {
                key: "keys".into(),
                value: MetadataValue::Integer(context.partition_keys.len() as i64),
            }],
        }])
    }

    fn evaluate_sensor(context: SensorContext) -> Result<SensorResult, PluginError> {
        Ok(SensorResult {
            run_requests: vec![RunRequest {
                run_key: Some(format!("legacy-{}", context.now)),
                assets: vec!["legacy_daily".into()],
                partition: PartitionSelection::Key("2024-01-02".into()),
                tags: Vec::new(),
            }],
            skip_reason: None,
            cursor: Some("seen".into()),
            dynamic_partitions: Vec::new(),
        })
    }
}

export!(Legacy);
