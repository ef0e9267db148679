//! The flat world's JSON documents (`tessera:plugin/flat-guest`): what a plugin without a
//! component-model bindings generator sends and receives instead of the rich world's records.
//!
//! The documents are the host's own binding types (`crate::bindings::types`) as serde writes
//! them, which is also what `tessera plugin inspect --json` prints, so there is one JSON form of
//! a definition, not two; only a materialize call's inputs and outputs have their own shape,
//! because their bytes travel beside the JSON rather than inside it. The JSON Schema
//! ([`schema`]) is generated from the same types. Reading a document names the field at fault,
//! and refuses fields that do not exist (a misspelt optional field would otherwise be dropped
//! without a word).

use std::fmt::Write as _;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::bindings::types as wit;

/// The instance a flat plugin exports (`tessera:plugin/flat-guest@0.4.0`), without version.
pub(crate) const INTERFACE: &str = "tessera:plugin/flat-guest";

/// One input of a flat `materialize` call: the upstream asset and the keys of the partitions it
/// maps to (one empty key for an unpartitioned upstream). Their bytes are the call's `data`,
/// one list per key, the inputs in order.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FlatInput {
    pub(crate) asset: String,
    pub(crate) partitions: Vec<String>,
}

/// One output of a flat `materialize` call; its bytes are the list at the same position in the
/// call's result.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FlatOutput {
    /// One of the requested assets.
    pub(crate) asset: String,
    /// A key of the selection (one output per key), or absent (one value for the whole
    /// selection), as `output.partition` in the rich world.
    #[serde(default)]
    pub(crate) partition: Option<String>,
    #[serde(default)]
    pub(crate) metadata: Vec<wit::MetadataEntry>,
}

/// The `flat-inputs` document of a call and the bytes that go with it.
pub(crate) fn inputs(inputs: &[wit::Input]) -> (String, Vec<&[u8]>) {
    let doc: Vec<FlatInput> = inputs
        .iter()
        .map(|i| FlatInput {
            asset: i.asset.clone(),
            partitions: i.partitions.iter().map(|p| p.key.clone()).collect(),
        })
        .collect();
    let data = inputs
        .iter()
        .flat_map(|i| i.partitions.iter().map(|p| p.data.as_slice()))
        .collect();
    // Strings and vectors of strings always serialize.
    (serde_json::to_string(&doc).unwrap_or_default(), data)
}

/// A document the host writes: its types serialize without fail (no maps with non-string keys,
/// no floats from the host), so an error here is a bug worth a clear message, not a panic.
pub(crate) fn write<T: Serialize>(value: &T) -> Result<String, String> {
    serde_json::to_string(value).map_err(|e| format!("the host could not write JSON: {e}"))
}

/// The rich world's outputs from a flat plugin's `flat-outputs` document and bytes.
pub(crate) fn outputs(doc: &str, data: Vec<Vec<u8>>) -> Result<Vec<wit::Output>, String> {
    let outputs: Vec<FlatOutput> = read("flat-outputs", doc)?;
    if outputs.len() != data.len() {
        return Err(format!(
            "it returned {} outputs and {} byte lists; each output's bytes are the list at its \
             position",
            outputs.len(),
            data.len()
        ));
    }
    Ok(outputs
        .into_iter()
        .zip(data)
        .map(|(o, data)| wit::Output {
            asset: o.asset,
            partition: o.partition,
            data,
            metadata: o.metadata,
        })
        .collect())
}

/// A document a flat plugin wrote, read into the host's type: an error names the document and
/// the field (`computations[0].assets[1].partitions`), and a field that does not exist is one.
pub(crate) fn read<T: DeserializeOwned>(document: &str, text: &str) -> Result<T, String> {
    let mut unknown: Option<String> = None;
    let mut track = serde_path_to_error::Track::new();
    let mut json = serde_json::Deserializer::from_str(text);
    let read = serde_ignored::deserialize(
        serde_path_to_error::Deserializer::new(&mut json, &mut track),
        |path| {
            unknown.get_or_insert_with(|| field_path(&path));
        },
    );
    let value = match read.and_then(|v| json.end().map(|()| v)) {
        Ok(v) => v,
        Err(e) => {
            let at = track.path().to_string();
            return Err(if at == "." || e.is_syntax() || e.is_eof() {
                format!("its {document} document is not valid: {e}")
            } else {
                format!("its {document} document is not valid at {at}: {e}")
            });
        }
    };
    match unknown {
        Some(path) => Err(format!(
            "its {document} document has a field that does not exist: {path} (see the flat \
             contract's JSON Schema, `tessera plugin schema`)"
        )),
        None => Ok(value),
    }
}

/// `computations[0].assets[1].foo`, as `serde_path_to_error` writes paths.
fn field_path(path: &serde_ignored::Path<'_>) -> String {
    fn walk(path: &serde_ignored::Path<'_>, out: &mut String) {
        use serde_ignored::Path as P;
        match path {
            P::Root => {}
            P::Seq { parent, index } => {
                walk(parent, out);
                let _ = write!(out, "[{index}]");
            }
            P::Map { parent, key } => {
                walk(parent, out);
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
                walk(parent, out);
            }
        }
    }
    let mut out = String::new();
    walk(path, &mut out);
    if out.is_empty() { ".".into() } else { out }
}

/// The JSON Schema (draft 2020-12) of the flat contract's documents, generated from the types
/// the host reads them into. Each document is a definition under its WIT name
/// (`#/$defs/definitions`, `#/$defs/flat-outputs`, …); the types they are made of are the
/// other definitions.
pub fn schema() -> serde_json::Value {
    // The host refuses fields that do not exist (see `read`); the schema says so too.
    let closed = schemars::transform::RecursiveTransform(|schema: &mut schemars::Schema| {
        if schema.get("properties").is_some() && schema.get("additionalProperties").is_none() {
            schema.insert("additionalProperties".into(), false.into());
        }
    });
    let mut generator = schemars::generate::SchemaSettings::draft2020_12()
        .with_transform(closed)
        .into_generator();
    let documents = [
        ("definitions", generator.subschema_for::<wit::Definitions>()),
        (
            "materialize-context",
            generator.subschema_for::<wit::MaterializeContext>(),
        ),
        ("flat-inputs", generator.subschema_for::<Vec<FlatInput>>()),
        ("flat-outputs", generator.subschema_for::<Vec<FlatOutput>>()),
        (
            "plugin-error",
            generator.subschema_for::<wit::PluginError>(),
        ),
        (
            "sensor-context",
            generator.subschema_for::<wit::SensorContext>(),
        ),
        (
            "sensor-result",
            generator.subschema_for::<wit::SensorResult>(),
        ),
    ];
    let mut defs = serde_json::Map::new();
    for (name, schema) in documents {
        defs.insert(name.to_string(), schema.to_value());
    }
    for (name, schema) in generator.take_definitions(true) {
        defs.insert(name, schema);
    }
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": format!("tessera:plugin@{} flat contract documents", crate::API_VERSION),
        "description": "The JSON documents a plugin of the world plugin-flat exchanges with the \
            host: definitions, materialize-context, flat-inputs, flat-outputs, plugin-error, \
            sensor-context, sensor-result (each under $defs by that name). Generated from the \
            host's types by `tessera plugin schema`.",
        "$defs": defs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_field() {
        let doc = r#"{"computations":[{"name":"c","assets":[{"key":"a","inputs":[],
            "metadata":[],"partitions":{"Cadence":{"cadence":"Fortnightly"}}}]}],"sensors":[]}"#;
        let err = read::<wit::Definitions>("definitions", doc).unwrap_err();
        assert!(
            err.contains("computations[0].assets[0].partitions.Cadence.cadence"),
            "{err}"
        );
        assert!(err.contains("Fortnightly"), "{err}");
    }

    #[test]
    fn unknown_fields_are_refused_with_their_path() {
        let doc = r#"{"computations":[{"name":"c","assets":[{"key":"a","inputs":[],
            "metadata":[],"descripton":"typo"}]}],"sensors":[]}"#;
        let err = read::<wit::Definitions>("definitions", doc).unwrap_err();
        assert!(
            err.contains("does not exist: computations[0].assets[0].descripton"),
            "{err}"
        );
    }

    #[test]
    fn absent_options_are_none_and_trailing_text_is_an_error() {
        let doc = r#"{"computations":[],"sensors":[]}"#;
        let defs = read::<wit::Definitions>("definitions", doc).unwrap();
        assert!(defs.computations.is_empty());
        let err = read::<wit::Definitions>("definitions", &format!("{doc} x")).unwrap_err();
        assert!(err.contains("not valid"), "{err}");
        let outs = outputs(r#"[{"asset":"a"}]"#, vec![b"x".to_vec()]).unwrap();
        assert_eq!(outs[0].partition, None);
        assert!(outputs(r#"[{"asset":"a"}]"#, Vec::new()).is_err());
    }

    /// The published schema is the generated one: regenerate it with
    /// `cargo run -p tessera-cli -- plugin schema > plugin-sdk/flat/schema.json`.
    #[test]
    fn the_published_schema_is_current() {
        let published: serde_json::Value =
            serde_json::from_str(include_str!("../../../plugin-sdk/flat/schema.json"))
                .expect("plugin-sdk/flat/schema.json is JSON");
        assert!(
            published == schema(),
            "plugin-sdk/flat/schema.json is out of date: regenerate it with \
             `cargo run -p tessera-cli -- plugin schema > plugin-sdk/flat/schema.json`"
        );
    }
}
