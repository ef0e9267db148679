//! Write Tessera plugins in Rust.
//!
//! A plugin is a WebAssembly component (built for `wasm32-wasip2`) that declares assets and
//! sensors as data and holds their compute logic. With this crate an asset is one function and
//! a short builder, and one [`plugin!`] invocation exports everything:
//!
//! ```
//! use tessera_sdk::prelude::*;
//!
//! fn daily_sales(ctx: &Context, _inputs: &Inputs) -> Result<Output, PluginError> {
//!     let date = ctx.partition_key()?;
//!     Output::json(&serde_json::json!({ "date": date, "sales": 42 }))
//! }
//!
//! tessera_sdk::plugin! {
//!     assets: [
//!         Asset::new("daily_sales", daily_sales)
//!             .partitions(Partitions::daily("2024-01-01"))
//!             .description("Sales per day."),
//!     ],
//!     sensors: [],
//! }
//!
//! # fn main() {
//! // `plugin!` also defines `plugin()`, the definitions as a value (for tests and tools).
//! assert_eq!(plugin().computations()[0].name(), "daily_sales");
//! # }
//! ```
//!
//! On the host target (`cargo test`), [`testing`] runs assets and sensors the way the Tessera
//! host does, computing keys and time windows with the host's own partition code.

mod check;
mod convert;
mod definitions;
mod host;
mod io;
pub mod log;
mod mapper;
mod partitions;
mod sensor;
pub mod time;

#[cfg(not(target_family = "wasm"))]
pub mod testing;

#[cfg(test)]
mod tests;

/// The bindings generated from `plugin-sdk/wit` (world `plugin-with-mappings`: `plugin` and
/// the `mappings` export). Plugins rarely need them:
/// [`plugin!`] exports through them and the SDK converts to and from their types.
#[allow(
    unsafe_code,
    missing_debug_implementations,
    unreachable_pub,
    clippy::all,
    clippy::pedantic,
    rust_2018_idioms
)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "plugin-with-mappings",
        path: "../wit",
        pub_export_macro: true,
        default_bindings_module: "tessera_sdk::bindings",
        additional_derives: [PartialEq],
    });

    /// The `types` interface, shared by the host and plugins.
    pub use self::tessera::plugin::types as wit;
}

pub use check::{Check, CheckContext, CheckFn, CheckOutcome, CheckResult};
pub use definitions::{
    Asset, AssetSpec, BackfillPolicy, Computation, ComputeFn, Plugin, Sensor, SensorFn,
};
pub use host::{dynamic_partition_keys, granted_path};
pub use io::{
    Context, InputPartition, Inputs, MetadataValue, Output, Outputs, PartitionSelection,
    PluginError, TimeWindow,
};
pub use mapper::{Direction, MapFn, MapRequest, Mapper};
pub use partitions::{
    AssetInput, Cadence, CadencePartitions, Combinations, CronPartitions, Dimension,
    DimensionMapping, DimensionMappingKind, DimensionPartitions, Mapping, Partitions, Rollup,
    TimeWindowMapping,
};
pub use sensor::{DynamicPartitionsRequest, RunRequest, SensorContext, SensorResult};

/// Everything a plugin usually needs: `use tessera_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::log::Level;
    pub use crate::{
        Asset, AssetInput, AssetSpec, BackfillPolicy, Cadence, Check, CheckContext, CheckResult,
        Combinations, Computation, Context, Dimension, DimensionMapping, DimensionMappingKind,
        DimensionPartitions, Inputs, MapRequest, Mapper, Mapping, MetadataValue, Output, Outputs,
        PartitionSelection, Partitions, Plugin, PluginError, Rollup, RunRequest, Sensor,
        SensorContext, SensorResult, TimeWindow, dynamic_partition_keys, granted_path,
    };
}

/// Declares a plugin's assets (single assets and multi-asset computations) and sensors, and
/// exports them as the component's `tessera:plugin/guest` interface.
///
/// ```
/// # use tessera_sdk::prelude::*;
/// # fn f(_: &Context, _: &Inputs) -> Result<Output, PluginError> { Ok(Output::text("x")) }
/// # fn s(_: &SensorContext) -> Result<SensorResult, PluginError> { Ok(SensorResult::new()) }
/// tessera_sdk::plugin! {
///     assets: [Asset::new("a", f), Computation::new("c", f).asset("b1").asset("b2")],
///     sensors: [Sensor::new("s", s).targets(["a"])],
/// }
/// # fn main() { assert_eq!(plugin().sensors().len(), 1); }
/// ```
///
/// Every section is optional. Every entry of `assets` is an [`Asset`] or a [`Computation`];
/// every entry of `sensors` a [`Sensor`]; every entry of `mappings` (after `sensors`) a
/// [`Mapper`]: a partition mapping the plugin exports; every entry of `checks` (last) a
/// [`Check`]: an asset check the host evaluates per partition after a materialization. Besides the exports, the macro defines
/// `pub fn plugin() -> tessera_sdk::Plugin` in the invoking module.
#[macro_export]
macro_rules! plugin {
    (
        $(assets: [$($asset:expr),* $(,)?] $(,)?)?
        $(sensors: [$($sensor:expr),* $(,)?] $(,)?)?
        $(mappings: [$($mapper:expr),* $(,)?] $(,)?)?
        $(checks: [$($check:expr),* $(,)?] $(,)?)?
    ) => {
        /// This plugin's assets, sensors and partition mappings, as declared.
        #[allow(unreachable_pub)]
        pub fn plugin() -> $crate::Plugin {
            $crate::Plugin::new()
                $($(.computation($asset))*)?
                $($(.sensor($sensor))*)?
                $($(.mapper($mapper))*)?
                $($(.check($check))*)?
        }

        #[doc(hidden)]
        #[allow(unsafe_code, dead_code, missing_debug_implementations, unreachable_pub)]
        pub mod __tessera_guest {
            use $crate::bindings::exports::tessera::plugin::guest;

            pub struct TesseraGuest;

            impl guest::Guest for TesseraGuest {
                fn definitions() -> guest::PluginDefinitions {
                    super::plugin().wit_definitions()
                }

                fn materialize(
                    context: guest::MaterializeContext,
                    inputs: ::std::vec::Vec<guest::Input>,
                ) -> ::core::result::Result<::std::vec::Vec<guest::Output>, guest::PluginError> {
                    super::plugin().wit_materialize(context, inputs)
                }

                fn evaluate_sensor(
                    context: guest::SensorContext,
                ) -> ::core::result::Result<guest::SensorResult, guest::PluginError> {
                    super::plugin().wit_evaluate_sensor(context)
                }
            }

            impl $crate::bindings::exports::tessera::plugin::mappings::Guest for TesseraGuest {
                fn declared_mappings() -> ::std::vec::Vec<
                    $crate::bindings::exports::tessera::plugin::mappings::MappingDefinition,
                > {
                    super::plugin().wit_declared_mappings()
                }

                fn map_partitions(
                    request: $crate::bindings::exports::tessera::plugin::mappings::MappingRequest,
                ) -> ::core::result::Result<
                    ::std::vec::Vec<$crate::bindings::exports::tessera::plugin::mappings::KeyRange>,
                    guest::PluginError,
                > {
                    super::plugin().wit_map_partitions(request)
                }
            }

            impl $crate::bindings::exports::tessera::plugin::checks::Guest for TesseraGuest {
                fn declared_checks() -> ::std::vec::Vec<
                    $crate::bindings::exports::tessera::plugin::checks::CheckDefinition,
                > {
                    super::plugin().wit_declared_checks()
                }

                fn evaluate_check(
                    context: $crate::bindings::exports::tessera::plugin::checks::CheckContext,
                    values: ::std::vec::Vec<$crate::bindings::wit::InputPartition>,
                ) -> ::core::result::Result<
                    ::std::vec::Vec<$crate::bindings::exports::tessera::plugin::checks::CheckResult>,
                    guest::PluginError,
                > {
                    super::plugin().wit_evaluate_check(context, values)
                }
            }

            #[cfg(target_family = "wasm")]
            $crate::bindings::export!(TesseraGuest with_types_in $crate::bindings);
        }
    };
}

/// Logs at [`Level::Trace`](log::Level::Trace), formatted like `format!`.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Trace, &::std::format!($($arg)+), &[]) };
}

/// Logs at [`Level::Debug`](log::Level::Debug), formatted like `format!`.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Debug, &::std::format!($($arg)+), &[]) };
}

/// Logs at [`Level::Info`](log::Level::Info), formatted like `format!`.
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Info, &::std::format!($($arg)+), &[]) };
}

/// Logs at [`Level::Warn`](log::Level::Warn), formatted like `format!`.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Warn, &::std::format!($($arg)+), &[]) };
}

/// Logs at [`Level::Error`](log::Level::Error), formatted like `format!`.
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => { $crate::log::log($crate::log::Level::Error, &::std::format!($($arg)+), &[]) };
}
