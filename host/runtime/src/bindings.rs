//! Host-side bindings of the `tessera:plugin` world, generated from `plugin-sdk/wit`.

wasmtime::component::bindgen!({
    path: "../../plugin-sdk/wit",
    world: "plugin",
    // `plugin inspect --json` prints the definitions as the plugin declared them.
    additional_derives: [serde::Serialize],
});

pub(crate) use tessera::plugin::{host, types};
