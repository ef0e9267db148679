//! Core modules as plugins. A WebAssembly core module is made a component when it is loaded,
//! and then loads like any component: same sandbox, limits, grants, versioning, and the
//! compiled artifact cached under the module's own hash. Two kinds are accepted:
//!
//! - a module that carries its component type (the custom section `component-type` that
//!   `wit-bindgen` embeds), of any world;
//! - a module of the flat world (`plugin-flat`) written without a bindings generator: it
//!   exports `tessera_definitions`, `tessera_materialize` and `tessera_evaluate_sensor` (names
//!   any language can write) or the contract's own names, and may import `log` and
//!   `dynamic_partition_keys` from the module `tessera`. The host renames those to the
//!   contract's names and embeds the flat world it carries (`plugin-sdk/flat/README.md` is the
//!   core-level contract).
//!
//! WASI preview 1 imports are adapted to preview 2 with the reactor adapter of the wasmtime
//! release in use.

use std::borrow::Cow;
use std::convert::Infallible;

use wasm_encoder::reencode::{self, Reencode};

/// Marks the compiled artifacts of wrapped modules: a change to how a module is wrapped must
/// not be served an artifact wrapped the old way.
pub(crate) const VERSION: &str = "wrap2";

/// The WIT the host carries: the flat world is embedded from it into flat core modules.
const WIT: &str = include_str!("../../../plugin-sdk/wit/plugin.wit");

/// The flat world's exports: the name a flat module may use, and the function's name in the
/// contract.
const FLAT_EXPORTS: [(&str, &str); 3] = [
    ("tessera_definitions", "definitions"),
    ("tessera_materialize", "materialize"),
    ("tessera_evaluate_sensor", "evaluate-sensor"),
];

/// The module a flat module's host imports come from, and their names there and in the
/// contract.
const FLAT_IMPORT_MODULE: &str = "tessera";
const FLAT_IMPORTS: [(&str, &str); 2] = [
    ("log", "log"),
    ("dynamic_partition_keys", "dynamic-partition-keys"),
];

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

/// The contract's name of a flat export (`tessera:plugin/flat-guest@0.4.0#materialize`).
fn flat_export(function: &str) -> String {
    format!(
        "{}@{}#{function}",
        crate::flat::INTERFACE,
        crate::API_VERSION
    )
}

/// The component of a core module that embeds its component type, or of a flat one.
pub fn componentize(bytes: &[u8]) -> Result<Vec<u8>, NotWrappable> {
    let (imports, exports, typed) = survey(bytes);
    let refuse = |reason: String| NotWrappable {
        reason,
        exports: exports.clone(),
    };
    let flat: Cow<'_, [u8]> = if typed {
        Cow::Borrowed(bytes)
    } else {
        // Without a component type the encoder makes an empty component, which says nothing
        // of the module: it must be a flat one, and say so with its exports.
        let has = |short: &str, function: &str| {
            exports
                .iter()
                .any(|e| e == short || *e == flat_export(function))
        };
        let missing: Vec<&str> = FLAT_EXPORTS
            .iter()
            .filter(|(short, function)| !has(short, function))
            .map(|(short, _)| *short)
            .chain(
                ["memory", "cabi_realloc"]
                    .into_iter()
                    .filter(|n| !exports.iter().any(|e| e == n)),
            )
            .collect();
        if !missing.is_empty() {
            return Err(refuse(format!(
                "it embeds no component type, the custom section wit-bindgen writes, and lacks \
                 {} of the flat world's exports (tessera_definitions, tessera_materialize, \
                 tessera_evaluate_sensor, memory, cabi_realloc)",
                missing.join(", ")
            )));
        }
        Cow::Owned(flat_module(bytes).map_err(refuse)?)
    };
    let mut encoder = wit_component::ComponentEncoder::default();
    encoder
        .module(&flat)
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

/// A flat core module with the contract's export and import names and the flat world
/// embedded as its component type.
fn flat_module(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut module = wasm_encoder::Module::new();
    Rename
        .parse_core_module(&mut module, wasmparser::Parser::new(0), bytes)
        .map_err(|e| format!("it does not parse as a core module: {e}"))?;
    let mut renamed = module.finish();
    let mut resolve = wit_parser::Resolve::default();
    let world = resolve
        .push_str("plugin.wit", WIT)
        .and_then(|package| resolve.select_world(&[package], Some("plugin-flat")))
        .map_err(|e| format!("the host's flat world does not parse: {e:#}"))?;
    wit_component::embed_component_metadata(
        &mut renamed,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
        false,
    )
    .map_err(|e| format!("the flat world cannot be embedded: {e:#}"))?;
    Ok(renamed)
}

/// Re-encodes a flat module with its exports and host imports under the contract's names;
/// everything else is copied as it is.
struct Rename;

impl Rename {
    fn export_name(name: &str) -> Cow<'_, str> {
        let (post, base) = match name.strip_prefix("cabi_post_") {
            Some(base) => ("cabi_post_", base),
            None => ("", name),
        };
        match FLAT_EXPORTS.iter().find(|(short, _)| *short == base) {
            Some((_, function)) => Cow::Owned(format!("{post}{}", flat_export(function))),
            None => Cow::Borrowed(name),
        }
    }

    /// `(module, name)` of an import, renamed when it is a flat host import.
    fn import_name<'a>(module: &'a str, name: &'a str) -> (Cow<'a, str>, Cow<'a, str>) {
        if module == FLAT_IMPORT_MODULE
            && let Some((_, function)) = FLAT_IMPORTS.iter().find(|(short, _)| *short == name)
        {
            return (
                Cow::Owned(format!("tessera:plugin/host@{}", crate::API_VERSION)),
                Cow::Borrowed(function),
            );
        }
        (Cow::Borrowed(module), Cow::Borrowed(name))
    }
}

impl Reencode for Rename {
    type Error = Infallible;

    fn parse_export(
        &mut self,
        exports: &mut wasm_encoder::ExportSection,
        export: wasmparser::Export<'_>,
    ) -> Result<(), reencode::Error<Infallible>> {
        exports.export(
            &Rename::export_name(export.name),
            self.export_kind(export.kind)?,
            self.external_index(export.kind, export.index)?,
        );
        Ok(())
    }

    fn parse_imports(
        &mut self,
        section: &mut wasm_encoder::ImportSection,
        imports: wasmparser::Imports<'_>,
    ) -> Result<(), reencode::Error<Infallible>> {
        // One import at a time, whichever encoding the module used: renaming may split a
        // group that shared a module name.
        let mut one = |module: &str, name: &str, ty: wasmparser::TypeRef| {
            let (module, name) = Rename::import_name(module, name);
            section.import(&module, &name, self.entity_type(ty)?);
            Ok::<(), reencode::Error<Infallible>>(())
        };
        match imports {
            wasmparser::Imports::Single(_, i) => one(i.module, i.name, i.ty)?,
            wasmparser::Imports::Compact1 { module, items } => {
                for item in items {
                    let item = item?;
                    one(module, item.name, item.ty)?;
                }
            }
            wasmparser::Imports::Compact2 { module, ty, names } => {
                for name in names {
                    one(module, name?, ty)?;
                }
            }
        }
        Ok(())
    }
}
