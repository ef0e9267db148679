//! The guest's three exports, found once per plugin version and type-checked once.
//!
//! The generated `PluginPre::instantiate` looks up and type-checks every export on every
//! instantiation; the `definitions` record alone is a deep type. Each call uses one export,
//! and the component's types cannot change between instances of one version, so the check
//! runs once when the version loads and every call afterwards fetches just its function.

use wasmtime::Store;
use wasmtime::component::{ComponentExportIndex, Instance, InstancePre, TypedFunc};

use crate::bindings::types as wit;
use crate::host::HostState;

pub(crate) type MaterializeFn<'a> = TypedFunc<
    (&'a wit::MaterializeContext, &'a [wit::Input]),
    (Result<Vec<wit::Output>, wit::PluginError>,),
>;
pub(crate) type SensorFn<'a> =
    TypedFunc<(&'a wit::SensorContext,), (Result<wit::SensorResult, wit::PluginError>,)>;

/// A plugin version ready to instantiate, and where `definitions`, `materialize` and
/// `evaluate-sensor` sit in it.
#[derive(Clone)]
pub(crate) struct GuestExports {
    pre: InstancePre<HostState>,
    definitions: ComponentExportIndex,
    materialize: ComponentExportIndex,
    evaluate_sensor: ComponentExportIndex,
}

impl GuestExports {
    /// Finds the functions of the `tessera:plugin/guest@{api_version}` instance export.
    pub(crate) fn find(
        pre: InstancePre<HostState>,
        api_version: &str,
    ) -> Result<GuestExports, String> {
        let component = pre.component();
        let interface = format!("tessera:plugin/guest@{api_version}");
        let instance = component
            .get_export_index(None, &interface)
            .ok_or_else(|| format!("it does not export {interface}"))?;
        let func = |name: &str| {
            component
                .get_export_index(Some(&instance), name)
                .ok_or_else(|| format!("its {interface} has no function {name:?}"))
        };
        Ok(GuestExports {
            definitions: func("definitions")?,
            materialize: func("materialize")?,
            evaluate_sensor: func("evaluate-sensor")?,
            pre,
        })
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
        instance
            .get_typed_func::<(), (wit::Definitions,)>(&mut *store, &self.definitions)
            .map_err(|e| describe("definitions", e))?;
        instance
            .get_typed_func::<
                (&wit::MaterializeContext, &[wit::Input]),
                (Result<Vec<wit::Output>, wit::PluginError>,),
            >(&mut *store, &self.materialize)
            .map_err(|e| describe("materialize", e))?;
        instance
            .get_typed_func::<(&wit::SensorContext,), (Result<wit::SensorResult, wit::PluginError>,)>(
                &mut *store,
                &self.evaluate_sensor,
            )
            .map_err(|e| describe("evaluate-sensor", e))?;
        Ok(())
    }

    pub(crate) fn definitions(
        &self,
        store: &mut Store<HostState>,
        instance: &Instance,
    ) -> Option<TypedFunc<(), (wit::Definitions,)>> {
        let func = instance.get_func(store, self.definitions)?;
        #[allow(unsafe_code)]
        // SAFETY: `new_unchecked` requires the function's component type to match the Rust
        // signature. `check` verified exactly this signature on an instance of the same
        // component before the plugin version was handed out (`Runtime::load_hashed`), and
        // every instance of a component has the component's types.
        Some(unsafe { TypedFunc::new_unchecked(func) })
    }

    pub(crate) fn materialize<'a>(
        &self,
        store: &mut Store<HostState>,
        instance: &Instance,
    ) -> Option<MaterializeFn<'a>> {
        let func = instance.get_func(store, self.materialize)?;
        #[allow(unsafe_code)]
        // SAFETY: as in `definitions`: `check` verified this signature on this component.
        Some(unsafe { TypedFunc::new_unchecked(func) })
    }

    pub(crate) fn evaluate_sensor<'a>(
        &self,
        store: &mut Store<HostState>,
        instance: &Instance,
    ) -> Option<SensorFn<'a>> {
        let func = instance.get_func(store, self.evaluate_sensor)?;
        #[allow(unsafe_code)]
        // SAFETY: as in `definitions`: `check` verified this signature on this component.
        Some(unsafe { TypedFunc::new_unchecked(func) })
    }
}
