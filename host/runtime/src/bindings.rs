//! Host-side bindings of the `tessera:plugin` world, generated from `plugin-sdk/wit` (the
//! current contract, 0.4.0) and from the frozen copies in `plugin-sdk/wit-0.3.0`,
//! `plugin-sdk/wit-0.2.0` and `plugin-sdk/wit-0.1.0`.
//!
//! Only what changed needs the older types: component types are checked structurally (field
//! names and types, not the package they were declared in), so the host calls an older plugin
//! with the current types of every record that did not change, and with [`v0_2`]'s
//! `definitions` and [`v0_1`]'s `definitions` and `output`, which did.

// The world with mappings: it includes `plugin`, so its imports (and the linker's) are
// `plugin`'s, and it adds the types of the optional `mappings` export.
wasmtime::component::bindgen!({
    path: "../../plugin-sdk/wit",
    world: "plugin-with-mappings",
    // `plugin inspect --json` prints the definitions as the plugin declared them; a 0.1.0
    // plugin's definitions are read into these types (see `v0_1::definitions`); the flat
    // world's JSON documents are these types, and so is their JSON Schema (`crate::flat`).
    additional_derives: [serde::Serialize, serde::Deserialize, schemars::JsonSchema],
});

pub(crate) use exports::tessera::plugin::{checks, mappings};
pub(crate) use tessera::plugin::{host, types};

/// `log_level`, in a frozen contract's module: its log levels are the current ones, case for
/// case (no contract has changed them).
macro_rules! same_log_levels {
    () => {
        pub(crate) fn log_level(l: host::LogLevel) -> super::host::LogLevel {
            use super::host::LogLevel as C;
            match l {
                host::LogLevel::Trace => C::Trace,
                host::LogLevel::Debug => C::Debug,
                host::LogLevel::Info => C::Info,
                host::LogLevel::Warn => C::Warn,
                host::LogLevel::Error => C::Error,
            }
        }
    };
}

/// The frozen 0.3.0 contract: every type as 0.4.0 has it (0.4.0 only added the flat world), so
/// the host calls such plugins with the current types; only the host imports' names differ.
pub(crate) mod v0_3 {
    wasmtime::component::bindgen!({
        path: "../../plugin-sdk/wit-0.3.0",
        world: "plugin-with-mappings",
    });

    pub(crate) use tessera::plugin::{host, types};

    same_log_levels!();
}

/// The frozen 0.2.0 contract: the current one but for `definitions` (0.3.0 added
/// `exclusions` to time-window definitions).
pub(crate) mod v0_2 {
    wasmtime::component::bindgen!({
        path: "../../plugin-sdk/wit-0.2.0",
        world: "plugin",
        additional_derives: [serde::Serialize],
    });

    pub(crate) use tessera::plugin::{host, types};

    use super::types as current;

    /// A 0.2.0 plugin's definitions in the current types (no exclusions). Read once per loaded
    /// version through JSON, which keeps this in step with every nested type.
    pub(crate) fn definitions(
        defs: &types::Definitions,
    ) -> Result<current::Definitions, serde_json::Error> {
        serde_json::to_value(defs).and_then(serde_json::from_value)
    }

    same_log_levels!();
}

/// The frozen 0.1.0 contract.
pub(crate) mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../../plugin-sdk/wit-0.1.0",
        world: "plugin",
        additional_derives: [serde::Serialize],
    });

    pub(crate) use tessera::plugin::{host, types};

    use super::types as current;

    /// A 0.1.0 plugin's definitions in the current types: the same records but for
    /// `asset-definition.backfill-policy`, which 0.1.0 lacks (absent; such plugins declare
    /// it as metadata). Read once per loaded version, so a round trip through JSON is cheap
    /// and keeps this in step with every nested type without a hand-written copy.
    pub(crate) fn definitions(
        defs: &types::Definitions,
    ) -> Result<current::Definitions, serde_json::Error> {
        serde_json::to_value(defs).and_then(serde_json::from_value)
    }

    /// A 0.1.0 output: always for the whole selection.
    pub(crate) fn output(o: types::Output) -> current::Output {
        current::Output {
            asset: o.asset,
            partition: None,
            data: o.data,
            metadata: o.metadata.into_iter().map(metadata_entry).collect(),
        }
    }

    fn metadata_entry(m: types::MetadataEntry) -> current::MetadataEntry {
        use current::MetadataValue as C;
        use types::MetadataValue as V;
        current::MetadataEntry {
            key: m.key,
            value: match m.value {
                V::Text(s) => C::Text(s),
                V::Integer(i) => C::Integer(i),
                V::Float(f) => C::Float(f),
                V::Boolean(b) => C::Boolean(b),
                V::Json(s) => C::Json(s),
                V::Url(s) => C::Url(s),
                V::Path(s) => C::Path(s),
            },
        }
    }

    same_log_levels!();
}
