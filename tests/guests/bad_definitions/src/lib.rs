//! A plugin whose definitions cannot build: a cron that is not one.

wit_bindgen::generate!({ world: "plugin", path: "../../../plugin-sdk/wit" });

use exports::tessera::plugin::guest::Guest;
use tessera::plugin::types::*;

struct Bad;

impl Guest for Bad {
    fn definitions() -> Definitions {
        Definitions {
            computations: vec![Computation {
                name: "bad".to_string(),
                assets: vec![AssetDefinition {
                    key: "bad".to_string(),
                    description: None,
                    partitions: Some(Partitions::Cron(CronPartitions {
                        cron_schedule: "every tuesday".to_string(),
                        start: "2024-01-01".to_string(),
                        end: None,
                        timezone: None,
                        fmt: "%Y-%m-%d".to_string(),
                        end_offset: 0,
                        exclusions: None,
                    })),
                    inputs: vec![],
                    code_version: None,
                    metadata: vec![],
                    backfill_policy: None,
                }],
            }],
            sensors: vec![],
        }
    }

    fn materialize(_c: MaterializeContext, _i: Vec<Input>) -> Result<Vec<Output>, PluginError> {
        Err(PluginError::Failed("unreachable".to_string()))
    }

    fn evaluate_sensor(_c: SensorContext) -> Result<SensorResult, PluginError> {
        Err(PluginError::Failed("unreachable".to_string()))
    }
}

export!(Bad);
