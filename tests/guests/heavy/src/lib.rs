//! A plugin of about a megabyte (it carries a regex engine): what reload benchmarks compile.

wit_bindgen::generate!({ world: "plugin", path: "../../../plugin-sdk/wit" });

use exports::tessera::plugin::guest::Guest;
use tessera::plugin::types::*;

struct Heavy;

/// The shortest line kept. Built with `TESSERA_HEAVY_EDITED` set, it changes, and so does one
/// function (`materialize`): an edit as a rebuild sees it. (A cargo feature would not do: it
/// changes the crate's hash, so every symbol's name, and so the order of the functions.)
const MIN_LINE: usize = if option_env!("TESSERA_HEAVY_EDITED").is_some() {
    11
} else {
    10
};

impl Guest for Heavy {
    fn definitions() -> Definitions {
        Definitions {
            computations: vec![Computation {
                name: "matches".to_string(),
                assets: vec![AssetDefinition {
                    key: "matches".to_string(),
                    description: Some("Lines of the input that look like dates.".to_string()),
                    partitions: None,
                    inputs: vec![],
                    code_version: None,
                    metadata: vec![],
                    backfill_policy: None,
                }],
            }],
            sensors: vec![],
        }
    }

    fn materialize(_c: MaterializeContext, inputs: Vec<Input>) -> Result<Vec<Output>, PluginError> {
        let re = regex::Regex::new(r"(?m)^\d{4}-\d{2}-\d{2}\b.*$")
            .map_err(|e| PluginError::Failed(e.to_string()))?;
        let text: String = inputs
            .iter()
            .flat_map(|i| &i.partitions)
            .map(|p| String::from_utf8_lossy(&p.data).into_owned())
            .collect();
        let found: Vec<&str> = re
            .find_iter(&text)
            .map(|m| m.as_str())
            .filter(|m| m.len() >= MIN_LINE)
            .collect();
        Ok(vec![Output {
            asset: "matches".to_string(),
            partition: None,
            data: found.join("\n").into_bytes(),
            metadata: vec![],
        }])
    }

    fn evaluate_sensor(_c: SensorContext) -> Result<SensorResult, PluginError> {
        Err(PluginError::Failed("no sensors".to_string()))
    }
}

export!(Heavy);
