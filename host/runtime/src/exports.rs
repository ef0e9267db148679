//! The guest's three exports (and the two of `mappings`, when a plugin exports it), found
//! once per plugin version and type-checked once.
//!
//! The generated `PluginPre::instantiate` looks up and type-checks every export on every
//! instantiation; the `definitions` record alone is a deep type. Each call uses one export,
//! and the component's types cannot change between instances of one version, so the check
//! runs once when the version loads and every call afterwards fetches just its function.

use wasmtime::Store;
use wasmtime::component::{ComponentExportIndex, Instance, InstancePre, TypedFunc};

use crate::ApiVersion;
use crate::bindings::checks as wit_checks;
use crate::bindings::mappings as wit_mappings;
use crate::bindings::types as wit;
use crate::bindings::v0_1::types as wit_0_1;
use crate::bindings::v0_2::types as wit_0_2;
use crate::host::HostState;
use crate::runtime::Negotiated;

/// `materialize` of a plugin speaking contract `O` (its output type).
pub(crate) type MaterializeFn<'a, O> =
    TypedFunc<(&'a wit::MaterializeContext, &'a [wit::Input]), (Result<Vec<O>, wit::PluginError>,)>;
pub(crate) type SensorFn<'a> =
    TypedFunc<(&'a wit::SensorContext,), (Result<wit::SensorResult, wit::PluginError>,)>;
pub(crate) type DeclaredMappingsFn = TypedFunc<(), (Vec<wit_mappings::MappingDefinition>,)>;
pub(crate) type DeclaredChecksFn = TypedFunc<(), (Vec<wit_checks::CheckDefinition>,)>;
pub(crate) type EvaluateCheckFn<'a> = TypedFunc<
    (&'a wit_checks::CheckContext, &'a [wit::InputPartition]),
    (Result<Vec<wit_checks::CheckResult>, wit::PluginError>,),
>;
pub(crate) type MapPartitionsFn<'a> = TypedFunc<
    (&'a wit_mappings::MappingRequest,),
    (Result<Vec<wit_mappings::KeyRange>, wit::PluginError>,),
>;
/// The flat world's three functions (`flat-guest`): JSON documents and byte lists.
pub(crate) type FlatDefinitionsFn = TypedFunc<(), (String,)>;
pub(crate) type FlatMaterializeFn<'a> =
    TypedFunc<(&'a str, &'a str, &'a [&'a [u8]]), (Result<(String, Vec<Vec<u8>>), String>,)>;
pub(crate) type FlatSensorFn<'a> = TypedFunc<(&'a str,), (Result<String, String>,)>;

/// The signatures a plugin's exports have: the contract's types, or the flat world's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    V0_1,
    V0_2,
    /// 0.3.0 and 0.4.0: the same types (0.4.0 only added the flat world).
    Rich,
    /// `flat-guest` (0.4.0 on).
    Flat,
}

/// A plugin version ready to instantiate, and where `definitions`, `materialize` and
/// `evaluate-sensor` sit in it.
#[derive(Clone)]
pub(crate) struct GuestExports {
    pre: InstancePre<HostState>,
    shape: Shape,
    definitions: ComponentExportIndex,
    materialize: ComponentExportIndex,
    evaluate_sensor: ComponentExportIndex,
    /// `declared-mappings` and `map-partitions`, when the plugin exports `mappings`.
    mappings: Option<(ComponentExportIndex, ComponentExportIndex)>,
    /// `declared-checks` and `evaluate-check`, when the plugin exports `checks`.
    checks: Option<(ComponentExportIndex, ComponentExportIndex)>,
}

impl GuestExports {
    /// Finds the functions of the `tessera:plugin/guest@{api_version}` instance export (or
    /// of `flat-guest`, for a flat plugin).
    pub(crate) fn find(
        pre: InstancePre<HostState>,
        api_version: &Negotiated,
    ) -> Result<GuestExports, String> {
        let component = pre.component();
        let shape = match api_version.contract {
            _ if api_version.flat => Shape::Flat,
            ApiVersion::V0_1 => Shape::V0_1,
            ApiVersion::V0_2 => Shape::V0_2,
            ApiVersion::V0_3 | ApiVersion::V0_4 => Shape::Rich,
        };
        let interface = if api_version.flat {
            format!("{}@{}", crate::flat::INTERFACE, api_version.found)
        } else {
            format!("tessera:plugin/guest@{}", api_version.found)
        };
        let instance = component
            .get_export_index(None, &interface)
            .ok_or_else(|| format!("it does not export {interface}"))?;
        let func = |name: &str| {
            component
                .get_export_index(Some(&instance), name)
                .ok_or_else(|| format!("its {interface} has no function {name:?}"))
        };
        // Optional: only plugins of the world `plugin-with-mappings` (0.3.0 on) export them.
        let optional =
            |interface: &str,
             first: &str,
             second: &str|
             -> Result<Option<(ComponentExportIndex, ComponentExportIndex)>, String> {
                let name = format!("tessera:plugin/{interface}@{}", api_version.found);
                match component.get_export_index(None, &name) {
                    Some(i) if shape == Shape::Rich => {
                        let func = |f: &str| {
                            component
                                .get_export_index(Some(&i), f)
                                .ok_or_else(|| format!("its {name} has no function {f:?}"))
                        };
                        Ok(Some((func(first)?, func(second)?)))
                    }
                    _ => Ok(None),
                }
            };
        let mappings = optional("mappings", "declared-mappings", "map-partitions")?;
        let checks = optional("checks", "declared-checks", "evaluate-check")?;
        Ok(GuestExports {
            definitions: func("definitions")?,
            materialize: func("materialize")?,
            evaluate_sensor: func("evaluate-sensor")?,
            mappings,
            checks,
            shape,
            pre,
        })
    }

    /// The signatures of its exports.
    pub(crate) fn shape(&self) -> Shape {
        self.shape
    }

    /// The world the plugin implements, as the WIT names it.
    pub(crate) fn world(&self) -> &'static str {
        match self.shape {
            Shape::Flat => "plugin-flat",
            _ if self.mappings.is_some() || self.checks.is_some() => "plugin-with-mappings",
            _ => "plugin",
        }
    }

    /// A new instance in `store` (async: WASI's host functions are, so that a guest blocked
    /// in one can be stopped at its deadline).
    pub(crate) async fn instantiate(
        &self,
        store: &mut Store<HostState>,
    ) -> wasmtime::Result<Instance> {
        self.pre.instantiate_async(store).await
    }

    /// Type-checks all three functions against this host's bindings, on a live instance of
    /// the component. Must succeed before any of the unchecked getters below is used.
    pub(crate) fn check(
        &self,
        store: &mut Store<HostState>,
        instance: &Instance,
    ) -> Result<(), String> {
        let describe = |name: &str, e: wasmtime::Error| format!("export {name:?}: {e:#}");
        // Only `definitions` and `output` differ between the contracts: the rest is checked
        // against the current types whichever the plugin speaks.
        match self.shape {
            Shape::Flat => {
                instance
                    .get_typed_func::<(), (String,)>(&mut *store, &self.definitions)
                    .map_err(|e| describe("definitions", e))?;
                instance
                    .get_typed_func::<
                        (&str, &str, &[&[u8]]),
                        (Result<(String, Vec<Vec<u8>>), String>,),
                    >(&mut *store, &self.materialize)
                    .map_err(|e| describe("materialize", e))?;
                instance
                    .get_typed_func::<(&str,), (Result<String, String>,)>(
                        &mut *store,
                        &self.evaluate_sensor,
                    )
                    .map_err(|e| describe("evaluate-sensor", e))?;
                // The flat world has neither mappings nor checks.
                return Ok(());
            }
            Shape::Rich | Shape::V0_2 => {
                if self.shape == Shape::Rich {
                    instance
                        .get_typed_func::<(), (wit::Definitions,)>(&mut *store, &self.definitions)
                        .map_err(|e| describe("definitions", e))?;
                } else {
                    instance
                        .get_typed_func::<(), (wit_0_2::Definitions,)>(
                            &mut *store,
                            &self.definitions,
                        )
                        .map_err(|e| describe("definitions", e))?;
                }
                instance
                    .get_typed_func::<
                        (&wit::MaterializeContext, &[wit::Input]),
                        (Result<Vec<wit::Output>, wit::PluginError>,),
                    >(&mut *store, &self.materialize)
                    .map_err(|e| describe("materialize", e))?;
            }
            Shape::V0_1 => {
                instance
                    .get_typed_func::<(), (wit_0_1::Definitions,)>(&mut *store, &self.definitions)
                    .map_err(|e| describe("definitions", e))?;
                instance
                    .get_typed_func::<
                        (&wit::MaterializeContext, &[wit::Input]),
                        (Result<Vec<wit_0_1::Output>, wit::PluginError>,),
                    >(&mut *store, &self.materialize)
                    .map_err(|e| describe("materialize", e))?;
            }
        }
        instance
            .get_typed_func::<(&wit::SensorContext,), (Result<wit::SensorResult, wit::PluginError>,)>(
                &mut *store,
                &self.evaluate_sensor,
            )
            .map_err(|e| describe("evaluate-sensor", e))?;
        if let Some((declared, map)) = self.mappings {
            instance
                .get_typed_func::<(), (Vec<wit_mappings::MappingDefinition>,)>(
                    &mut *store,
                    &declared,
                )
                .map_err(|e| describe("declared-mappings", e))?;
            instance
                .get_typed_func::<
                    (&wit_mappings::MappingRequest,),
                    (Result<Vec<wit_mappings::KeyRange>, wit::PluginError>,),
                >(&mut *store, &map)
                .map_err(|e| describe("map-partitions", e))?;
        }
        if let Some((declared, evaluate)) = self.checks {
            instance
                .get_typed_func::<(), (Vec<wit_checks::CheckDefinition>,)>(&mut *store, &declared)
                .map_err(|e| describe("declared-checks", e))?;
            instance
                .get_typed_func::<
                    (&wit_checks::CheckContext, &[wit::InputPartition]),
                    (Result<Vec<wit_checks::CheckResult>, wit::PluginError>,),
                >(&mut *store, &evaluate)
                .map_err(|e| describe("evaluate-check", e))?;
        }
        Ok(())
    }

    /// `declared-checks`, when the plugin exports checks.
    pub(crate) fn declared_checks(
        &self,
        store: &mut Store<HostState>,
        instance: &Instance,
    ) -> Option<DeclaredChecksFn> {
        let (declared, _) = self.checks?;
        self.typed(store, instance, declared, Shape::Rich)
    }

    /// `evaluate-check`, when the plugin exports checks.
    pub(crate) fn evaluate_check<'a>(
        &self,
        store: &mut Store<HostState>,
        instance: &Instance,
    ) -> Option<EvaluateCheckFn<'a>> {
        let (_, evaluate) = self.checks?;
        self.typed(store, instance, evaluate, Shape::Rich)
    }

    /// `declared-mappings`, when the plugin exports mappings.
    pub(crate) fn declared_mappings(
        &self,
        store: &mut Store<HostState>,
        instance: &Instance,
    ) -> Option<DeclaredMappingsFn> {
        let (declared, _) = self.mappings?;
        self.typed(store, instance, declared, Shape::Rich)
    }

    /// `map-partitions`, when the plugin exports mappings.
    pub(crate) fn map_partitions<'a>(
        &self,
        store: &mut Store<HostState>,
        instance: &Instance,
    ) -> Option<MapPartitionsFn<'a>> {
        let (_, map) = self.mappings?;
        self.typed(store, instance, map, Shape::Rich)
    }

    /// `definitions` of a plugin speaking the current contract (`None` for an older one).
    pub(crate) fn definitions(
        &self,
        store: &mut Store<HostState>,
        instance: &Instance,
    ) -> Option<TypedFunc<(), (wit::Definitions,)>> {
        self.typed(store, instance, self.definitions, Shape::Rich)
    }

    /// `definitions` of a 0.2.0 plugin (`None` for any other).
    pub(crate) fn definitions_0_2(
        &self,
        store: &mut Store<HostState>,
        instance: &Instance,
    ) -> Option<TypedFunc<(), (wit_0_2::Definitions,)>> {
        self.typed(store, instance, self.definitions, Shape::V0_2)
    }

    /// `definitions` of a 0.1.0 plugin (`None` for a current one).
    pub(crate) fn definitions_0_1(
        &self,
        store: &mut Store<HostState>,
        instance: &Instance,
    ) -> Option<TypedFunc<(), (wit_0_1::Definitions,)>> {
        self.typed(store, instance, self.definitions, Shape::V0_1)
    }

    pub(crate) fn materialize<'a>(
        &self,
        store: &mut Store<HostState>,
        instance: &Instance,
    ) -> Option<MaterializeFn<'a, wit::Output>> {
        // 0.3.0 and 0.4.0 left `materialize` as 0.2.0 had it.
        match self.shape {
            Shape::Rich | Shape::V0_2 => self.typed(store, instance, self.materialize, self.shape),
            Shape::V0_1 | Shape::Flat => None,
        }
    }

    pub(crate) fn materialize_0_1<'a>(
        &self,
        store: &mut Store<HostState>,
        instance: &Instance,
    ) -> Option<MaterializeFn<'a, wit_0_1::Output>> {
        self.typed(store, instance, self.materialize, Shape::V0_1)
    }

    /// The export at `index` as the signature `check` verified for `shape`; `None` when the
    /// plugin's exports have another shape. Only the typed getters call this, each with the
    /// signature `check` verifies for its shape.
    fn typed<P, R>(
        &self,
        store: &mut Store<HostState>,
        instance: &Instance,
        index: ComponentExportIndex,
        shape: Shape,
    ) -> Option<TypedFunc<P, R>>
    where
        P: wasmtime::component::ComponentNamedList + wasmtime::component::Lower,
        R: wasmtime::component::ComponentNamedList + wasmtime::component::Lift,
    {
        if shape != self.shape {
            return None;
        }
        let func = instance.get_func(store, index)?;
        #[allow(unsafe_code)]
        // SAFETY: `new_unchecked` requires the function's component type to match the Rust
        // signature. `check` verified exactly the getter's signature for this contract on an
        // instance of the same component before the plugin version was handed out
        // (`Runtime::load_hashed`), and every instance of a component has its types.
        Some(unsafe { TypedFunc::new_unchecked(func) })
    }

    /// `evaluate-sensor`: the same types in every contract, but not in the flat world.
    pub(crate) fn evaluate_sensor<'a>(
        &self,
        store: &mut Store<HostState>,
        instance: &Instance,
    ) -> Option<SensorFn<'a>> {
        match self.shape {
            Shape::Flat => None,
            shape => self.typed(store, instance, self.evaluate_sensor, shape),
        }
    }

    /// The flat world's `definitions`.
    pub(crate) fn flat_definitions(
        &self,
        store: &mut Store<HostState>,
        instance: &Instance,
    ) -> Option<FlatDefinitionsFn> {
        self.typed(store, instance, self.definitions, Shape::Flat)
    }

    /// The flat world's `materialize`.
    pub(crate) fn flat_materialize<'a>(
        &self,
        store: &mut Store<HostState>,
        instance: &Instance,
    ) -> Option<FlatMaterializeFn<'a>> {
        self.typed(store, instance, self.materialize, Shape::Flat)
    }

    /// The flat world's `evaluate-sensor`.
    pub(crate) fn flat_evaluate_sensor<'a>(
        &self,
        store: &mut Store<HostState>,
        instance: &Instance,
    ) -> Option<FlatSensorFn<'a>> {
        self.typed(store, instance, self.evaluate_sensor, Shape::Flat)
    }
}
