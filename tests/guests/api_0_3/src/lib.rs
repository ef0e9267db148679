//! A plugin built against the frozen contract 0.3.0 (`plugin-sdk/wit-0.3.0`) with bare
//! `wit-bindgen`, as a plugin built before 0.4.0 was: the host must keep loading and running
//! it. A weekday asset (0.3.0's calendar exclusions), a check (0.3.0's `checks`), a log line
//! through `host@0.3.0`, and a sensor.

wit_bindgen::generate!({
    path: "../../../plugin-sdk/wit-0.3.0",
    world: "plugin-with-mappings",
});

use exports::tessera::plugin::checks::{
    CheckContext, CheckDefinition, CheckOutcome, CheckResult, Guest as Checks,
};
use exports::tessera::plugin::guest::Guest;
use exports::tessera::plugin::mappings::{
    Guest as Mappings, KeyRange as MappedRange, MappingDefinition, MappingRequest,
};
use tessera::plugin::host;
use tessera::plugin::types::*;

struct Previous;

impl Guest for Previous {
    fn definitions() -> Definitions {
        Definitions {
            computations: vec![Computation {
                name: "weekdays_0_3".into(),
                assets: vec![AssetDefinition {
                    key: "weekdays_0_3".into(),
                    description: Some("built against contract 0.3.0".into()),
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
                        exclusions: Some(vec!["* * * * 6,0".into()]),
                    })),
                    inputs: Vec::new(),
                    code_version: Some("3".into()),
                    metadata: Vec::new(),
                    backfill_policy: None,
                }],
            }],
            sensors: vec![SensorDefinition {
                name: "sensor_0_3".into(),
                description: None,
                minimum_interval_seconds: 1,
                targets: vec!["weekdays_0_3".into()],
            }],
        }
    }

    fn materialize(
        context: MaterializeContext,
        _inputs: Vec<Input>,
    ) -> Result<Vec<Output>, PluginError> {
        host::log(host::LogLevel::Info, "0.3.0 materialize", &[]);
        Ok(context
            .partition_keys
            .iter()
            .map(|key| Output {
                asset: "weekdays_0_3".into(),
                partition: Some(key.clone()),
                data: format!("weekday {key}").into_bytes(),
                metadata: Vec::new(),
            })
            .collect())
    }

    fn evaluate_sensor(context: SensorContext) -> Result<SensorResult, PluginError> {
        Ok(SensorResult {
            run_requests: vec![RunRequest {
                run_key: Some(format!("weekday-{}", context.now)),
                assets: vec!["weekdays_0_3".into()],
                partition: PartitionSelection::Key("2024-01-05".into()),
                tags: Vec::new(),
            }],
            skip_reason: None,
            cursor: Some("seen".into()),
            dynamic_partitions: Vec::new(),
        })
    }
}

impl Mappings for Previous {
    fn declared_mappings() -> Vec<MappingDefinition> {
        Vec::new()
    }

    fn map_partitions(request: MappingRequest) -> Result<Vec<MappedRange>, PluginError> {
        Err(PluginError::InvalidInput(format!(
            "no mapping {:?}",
            request.mapping
        )))
    }
}

impl Checks for Previous {
    fn declared_checks() -> Vec<CheckDefinition> {
        vec![CheckDefinition {
            name: "not_empty".into(),
            asset: "weekdays_0_3".into(),
            description: None,
            blocking: false,
        }]
    }

    fn evaluate_check(
        _context: CheckContext,
        values: Vec<InputPartition>,
    ) -> Result<Vec<CheckResult>, PluginError> {
        Ok(values
            .into_iter()
            .map(|v| CheckResult {
                outcome: if v.data.is_empty() {
                    CheckOutcome::Fail
                } else {
                    CheckOutcome::Pass
                },
                partition: v.key,
                description: None,
                metadata: Vec::new(),
            })
            .collect())
    }
}

export!(Previous);
