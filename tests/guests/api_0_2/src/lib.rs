//! A plugin built against the frozen contract 0.2.0 (`plugin-sdk/wit-0.2.0`) with bare
//! `wit-bindgen`, as a plugin built before 0.3.0 was: the host must keep loading and running
//! it. A daily asset with 0.2.0's backfill-policy field (and no exclusions, which 0.2.0 lacks),
//! one output per key of a range (0.2.0's per-key outputs), a log line through `host@0.2.0`,
//! and a sensor.

wit_bindgen::generate!({
    path: "../../../plugin-sdk/wit-0.2.0",
    world: "plugin",
});

use exports::tessera::plugin::guest::Guest;
use tessera::plugin::host;
use tessera::plugin::types::*;

struct Previous;

impl Guest for Previous {
    fn definitions() -> Definitions {
        Definitions {
            computations: vec![Computation {
                name: "previous_daily".into(),
                assets: vec![AssetDefinition {
                    key: "previous_daily".into(),
                    description: Some("built against contract 0.2.0".into()),
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
                    code_version: Some("2".into()),
                    metadata: Vec::new(),
                    backfill_policy: Some(BackfillPolicy::MultiRun(4)),
                }],
            }],
            sensors: vec![SensorDefinition {
                name: "previous_sensor".into(),
                description: None,
                minimum_interval_seconds: 1,
                targets: vec!["previous_daily".into()],
            }],
        }
    }

    fn materialize(
        context: MaterializeContext,
        _inputs: Vec<Input>,
    ) -> Result<Vec<Output>, PluginError> {
        host::log(host::LogLevel::Info, "previous materialize", &[]);
        Ok(context
            .partition_keys
            .iter()
            .map(|key| Output {
                asset: "previous_daily".into(),
                partition: Some(key.clone()),
                data: format!("previous {key}").into_bytes(),
                metadata: Vec::new(),
            })
            .collect())
    }

    fn evaluate_sensor(context: SensorContext) -> Result<SensorResult, PluginError> {
        Ok(SensorResult {
            run_requests: vec![RunRequest {
                run_key: Some(format!("previous-{}", context.now)),
                assets: vec!["previous_daily".into()],
                partition: PartitionSelection::Key("2024-01-03".into()),
                tags: Vec::new(),
            }],
            skip_reason: None,
            cursor: Some("seen".into()),
            dynamic_partitions: Vec::new(),
        })
    }
}

export!(Previous);
