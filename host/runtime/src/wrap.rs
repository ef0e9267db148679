//! Core modules as plugins. A WebAssembly core module that carries its component type (the
//! custom section `component-type` that `wit-bindgen` embeds) is made a component when it is
//! loaded, with WASI preview 1 adapted to preview 2 when it imports it (the reactor adapter of
//! the wasmtime release in use), and then loads like any component: same sandbox, limits,
//! grants, versioning, and the compiled artifact cached under the module's own hash.

/// Marks the compiled artifacts of wrapped modules: a change to how a module is wrapped must
/// not be served an artifact wrapped the old way.
pub(crate) const VERSION: &str = "wrap1";

/// The module WASI preview 1 imports come from.
const PREVIEW1: &str = "wasi_snapshot_preview1";

/// Why a core module cannot be made a plugin.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "a core module that cannot be made a plugin ({reason}); it exports: {}",
    if exports.is_empty() { "nothing".to_string() } else { exports.join(", ") }
)]
pub struct NotWrappable {
    /// What went wrong, in words.
    pub reason: String,
    /// What the module exports, in order.
    pub exports: Vec<String>,
}

/// What a core module imports from, exports, and whether it embeds a component type, as far
/// as it parses.
fn survey(bytes: &[u8]) -> (Vec<String>, Vec<String>, bool) {
    let (mut imports, mut exports, mut typed) = (Vec::new(), Vec::new(), false);
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload {
            Ok(wasmparser::Payload::CustomSection(section)) => {
                typed |= section.name().starts_with("component-type");
            }
            Ok(wasmparser::Payload::ImportSection(section)) => {
                for group in section.into_iter().map_while(Result::ok) {
                    let module = match group {
                        wasmparser::Imports::Single(_, i) => i.module,
                        wasmparser::Imports::Compact1 { module, .. }
                        | wasmparser::Imports::Compact2 { module, .. } => module,
                    };
                    imports.push(module.to_string());
                }
            }
            Ok(wasmparser::Payload::ExportSection(section)) => {
                exports.extend(
                    section
                        .into_iter()
                        .map_while(Result::ok)
                        .map(|e| e.name.to_string()),
                );
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    (imports, exports, typed)
}

/// Whether `bytes` are a WebAssembly core module (not a component, not something else).
pub fn is_core_module(bytes: &[u8]) -> bool {
    wasmparser::Parser::is_core_wasm(bytes)
}

/// The component of a core module that embeds its component type.
pub fn componentize(bytes: &[u8]) -> Result<Vec<u8>, NotWrappable> {
    let (imports, exports, typed) = survey(bytes);
    let refuse = |reason: String| NotWrappable {
        reason,
        exports: exports.clone(),
    };
    // Without it the encoder makes an empty component, which says nothing of the module.
    if !typed {
        return Err(refuse(
            "it embeds no component type, the custom section wit-bindgen writes".to_string(),
        ));
    }
    let mut encoder = wit_component::ComponentEncoder::default();
    encoder
        .module(bytes)
        .map_err(|e| refuse(format!("{e:#}")))?;
    if imports.iter().any(|m| m == PREVIEW1) {
        encoder
            .adapter(
                PREVIEW1,
                wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
            )
            .map_err(|e| refuse(format!("{e:#}")))?;
    }
    encoder
        .validate(true)
        .encode()
        .map_err(|e| refuse(format!("{e:#}")))
}
