/*
 * Tessera plugin kit for C.
 *
 * A plugin defines `tessera_define`, which declares its assets and sensors, and one function
 * per asset (and per sensor). The kit implements the component's exports on top of the
 * bindings `wit-bindgen` generates from `plugin-sdk/wit/plugin.wit`: `cargo xtask plugins`
 * generates them, compiles the plugin with clang for wasm32-wasi and wraps it into a
 * component (see README.md).
 *
 * Every call runs in a fresh instance, so nothing a plugin allocates outlives the call;
 * strings the kit hands out are NUL-terminated and valid until the call returns.
 */
#ifndef TESSERA_H
#define TESSERA_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tessera_plugin tessera_plugin;
typedef struct tessera_asset tessera_asset;
typedef struct tessera_multi_asset tessera_multi_asset;
typedef struct tessera_sensor tessera_sensor;
typedef struct tessera_context tessera_context;
typedef struct tessera_inputs tessera_inputs;
typedef struct tessera_output tessera_output;
typedef struct tessera_sensor_context tessera_sensor_context;
typedef struct tessera_sensor_result tessera_sensor_result;
typedef struct tessera_mapping tessera_mapping;
typedef struct tessera_map_request tessera_map_request;
typedef struct tessera_map_result tessera_map_result;
typedef struct tessera_check tessera_check;
typedef struct tessera_check_context tessera_check_context;
typedef struct tessera_check_results tessera_check_results;
typedef struct tessera_check_result tessera_check_result;

/* What an asset or sensor function returns. */
typedef enum tessera_status {
    TESSERA_OK = 0,
    /* The logic failed; the host may retry. */
    TESSERA_FAILED = 1,
    /* The inputs or the request are not what the logic accepts; a retry will not help. */
    TESSERA_INVALID_INPUT = 2,
} tessera_status;

typedef tessera_status (*tessera_compute)(const tessera_context *ctx, const tessera_inputs *inputs,
                                          tessera_output *out);
typedef tessera_status (*tessera_evaluate)(const tessera_sensor_context *ctx,
                                           tessera_sensor_result *result);
typedef tessera_status (*tessera_map)(const tessera_map_request *request,
                                      tessera_map_result *result);
typedef tessera_status (*tessera_check_evaluate)(const tessera_check_context *ctx,
                                                 tessera_check_results *results);

/* Implemented by the plugin: declares its assets, sensors, partition mappings and asset
 * checks. Called at every entry into the plugin; it must depend on nothing but the code. */
void tessera_define(tessera_plugin *plugin);

/* ---- Declaring assets ------------------------------------------------------------------- */

/* A new asset produced by `compute` (one asset per function). */
tessera_asset *tessera_asset_new(tessera_plugin *plugin, const char *key, tessera_compute compute);
void tessera_asset_description(tessera_asset *asset, const char *text);
/* Changes when the logic changes; the component's content hash when not given. */
void tessera_asset_code_version(tessera_asset *asset, const char *version);
void tessera_asset_metadata_text(tessera_asset *asset, const char *key, const char *value);
void tessera_asset_metadata_int(tessera_asset *asset, const char *key, int64_t value);

/* Partitions, with Dagster's defaults (keys `%Y-%m-%d`, `%Y-%m-%d-%H:%M` for hours). `start`
 * is written in the key format. */
void tessera_asset_hourly(tessera_asset *asset, const char *start);
void tessera_asset_daily(tessera_asset *asset, const char *start);
void tessera_asset_weekly(tessera_asset *asset, const char *start);
void tessera_asset_monthly(tessera_asset *asset, const char *start);
/* Any 5-field cron schedule; `fmt` is a Python strftime format. */
void tessera_asset_cron(tessera_asset *asset, const char *cron, const char *start, const char *fmt);
/* For time-window partitions, after choosing them: an IANA zone (UTC otherwise), and windows
 * past the last complete one (negative: held back). */
void tessera_asset_timezone(tessera_asset *asset, const char *zone);
void tessera_asset_end_offset(tessera_asset *asset, int64_t offset);
/* Ticks that are not partitions (a business calendar), one per call: "2024-12-25" (every tick
 * that local day), "2024-12-24T13:00" (the tick at that wall time) or a cron schedule
 * ("* * * * 6,0": weekends). */
void tessera_asset_exclude(tessera_asset *asset, const char *exclusion);
void tessera_asset_static(tessera_asset *asset, const char *const *keys, size_t count);
void tessera_asset_dynamic(tessera_asset *asset, const char *set_name);

/* Multi-dimensional partitions: each call adds a named dimension (2 to 8); keys join the
 * dimension keys with '|' in dimension-name order. Timezone and end offset apply to the last
 * dimension added. */
void tessera_asset_dimension_static(tessera_asset *asset, const char *name,
                                    const char *const *keys, size_t count);
void tessera_asset_dimension_hourly(tessera_asset *asset, const char *name, const char *start);
void tessera_asset_dimension_daily(tessera_asset *asset, const char *name, const char *start);
void tessera_asset_dimension_weekly(tessera_asset *asset, const char *name, const char *start);
void tessera_asset_dimension_monthly(tessera_asset *asset, const char *name, const char *start);
void tessera_asset_dimension_cron(tessera_asset *asset, const char *name, const char *cron,
                                  const char *start, const char *fmt);
void tessera_asset_dimension_dynamic(tessera_asset *asset, const char *name, const char *set_name);

/* Sparse multi-dimensional partitions: after the dimensions, name the dimensions whose
 * combinations are declared (the others stay full), then either add each combination (one key
 * per combined dimension, in the order named; static dimensions) or name the dynamic set
 * holding them (keys joined with '|' in dimension-name order: "acme|emea"). */
void tessera_asset_combine(tessera_asset *asset, const char *const *dimension_names,
                           size_t count);
void tessera_asset_combination(tessera_asset *asset, const char *const *keys);
void tessera_asset_combinations_dynamic(tessera_asset *asset, const char *set_name);

/* How the asset may be run over several partitions (its backfill policy): one partition per
 * run; one run per contiguous range; runs of at most `max_partitions_per_run`. Undeclared: as
 * each request asks. */
void tessera_asset_single_partition(tessera_asset *asset);
void tessera_asset_single_run(tessera_asset *asset);
void tessera_asset_multi_run(tessera_asset *asset, uint32_t max_partitions_per_run);

/* Inputs. The mapping is inferred as Dagster does unless given. */
void tessera_asset_input(tessera_asset *asset, const char *upstream);
void tessera_asset_input_identity(tessera_asset *asset, const char *upstream);
void tessera_asset_input_all(tessera_asset *asset, const char *upstream);
void tessera_asset_input_last(tessera_asset *asset, const char *upstream);
/* Offsets count in partitions of this asset: (-1, 0) reads the window before and this one. */
void tessera_asset_input_window(tessera_asset *asset, const char *upstream, int64_t start_offset,
                                int64_t end_offset, bool allow_nonexistent_upstream_partitions);
/* Only these upstream keys, whatever the downstream partition. */
void tessera_asset_input_specific(tessera_asset *asset, const char *upstream,
                                  const char *const *keys, size_t count);
/* A static map: declare it, then its pairs (upstream key -> downstream key; repeat an upstream
 * key for several downstream keys). Pairs go to the last input declared. */
void tessera_asset_input_static_map(tessera_asset *asset, const char *upstream);
void tessera_asset_input_static_pair(tessera_asset *asset, const char *upstream_key,
                                     const char *downstream_key);
/* One side multi-dimensional, the other one of its dimensions (`dimension`, or inferred when
 * NULL). */
void tessera_asset_input_multi_to_single(tessera_asset *asset, const char *upstream,
                                         const char *dimension);
/* Through a partition mapping a loaded plugin exports, by name (tessera_mapping_new). */
void tessera_asset_input_plugin_mapping(tessera_asset *asset, const char *upstream,
                                        const char *mapping);
/* Between two multi-dimensional definitions: declare it, then one mapping per pair of
 * dimensions (dimensions not listed depend on every partition). They go to the last input. */
void tessera_asset_input_multi(tessera_asset *asset, const char *upstream);
void tessera_asset_input_dimension_identity(tessera_asset *asset, const char *upstream_dimension,
                                            const char *downstream_dimension);
void tessera_asset_input_dimension_all(tessera_asset *asset, const char *upstream_dimension,
                                       const char *downstream_dimension);
void tessera_asset_input_dimension_last(tessera_asset *asset, const char *upstream_dimension,
                                        const char *downstream_dimension);
void tessera_asset_input_dimension_specific(tessera_asset *asset, const char *upstream_dimension,
                                            const char *downstream_dimension,
                                            const char *const *keys, size_t count);
void tessera_asset_input_dimension_window(tessera_asset *asset, const char *upstream_dimension,
                                          const char *downstream_dimension, int64_t start_offset,
                                          int64_t end_offset,
                                          bool allow_nonexistent_upstream_partitions);
/* Adds a pair to the static map of (upstream_dimension, downstream_dimension), creating it. */
void tessera_asset_input_dimension_static_pair(tessera_asset *asset,
                                               const char *upstream_dimension,
                                               const char *downstream_dimension,
                                               const char *upstream_key,
                                               const char *downstream_key);
/* Run even when some mapped upstream partitions are missing (the last input declared). */
void tessera_asset_input_allow_missing(tessera_asset *asset);
/* The last input's roll-up policy: when a downstream window runs while some upstream
 * partitions it maps to are missing. Only when all exist (the default); or once they all
 * exist or `seconds_after_window_end` after the window's end, with what exists then; or with
 * what exists. */
void tessera_asset_input_wait_all(tessera_asset *asset);
void tessera_asset_input_wait_until(tessera_asset *asset, uint64_t seconds_after_window_end);
void tessera_asset_input_run_partial(tessera_asset *asset);

/* ---- Declaring multi-assets ------------------------------------------------------------- */

/* One function producing several assets (a multi-asset computation named `name`). Add its
 * assets with tessera_multi_asset_add and declare each like any asset (they share one
 * partitions definition: declare the same on each). In the function, tessera_is_requested
 * says which assets a run asks for and tessera_output_for gives each one's output. */
tessera_multi_asset *tessera_multi_asset_new(tessera_plugin *plugin, const char *name,
                                             tessera_compute compute);
tessera_asset *tessera_multi_asset_add(tessera_multi_asset *multi, const char *key);

/* ---- Declaring sensors ------------------------------------------------------------------ */

tessera_sensor *tessera_sensor_new(tessera_plugin *plugin, const char *name,
                                   tessera_evaluate evaluate, uint32_t minimum_interval_seconds);
void tessera_sensor_description(tessera_sensor *sensor, const char *text);
/* An asset its run requests may target. */
void tessera_sensor_target(tessera_sensor *sensor, const char *asset);

/* ---- Declaring partition mappings ------------------------------------------------------- */

/* A partition mapping this plugin exports (a fiscal calendar, "the last complete week of the
 * month"), by a name unique among the loaded plugins: inputs of any plugin read through it
 * with tessera_asset_input_plugin_mapping. One function per direction; each is given runs of
 * keys of one side (first and last, inclusive, in key order) and answers runs of keys of the
 * other with tessera_map_answer. The host checks the answers and refuses a mapping whose keys
 * the other side does not have, or whose answers do not map back onto what was asked. */
tessera_mapping *tessera_mapping_new(tessera_plugin *plugin, const char *name,
                                     tessera_map to_upstream, tessera_map to_downstream);
void tessera_mapping_description(tessera_mapping *mapping, const char *text);

/* ---- Declaring asset checks ------------------------------------------------------------- */

/* A check on one of this plugin's assets, evaluated by the host per partition right after
 * each materialization, over the values just written. */
tessera_check *tessera_check_new(tessera_plugin *plugin, const char *name, const char *asset,
                                 tessera_check_evaluate evaluate);
void tessera_check_description(tessera_check *check, const char *text);
/* A partition failing it stops the downstream partitions that read it from running. */
void tessera_check_blocking(tessera_check *check);

/* ---- In an asset function --------------------------------------------------------------- */

/* The partition key of a one-key run; NULL for an unpartitioned asset or a range. */
const char *tessera_partition_key(const tessera_context *ctx);
/* Every key of the run, in order. */
size_t tessera_partition_key_count(const tessera_context *ctx);
const char *tessera_partition_key_at(const tessera_context *ctx, size_t index);
/* The time window of the run in Unix seconds, [start, end), with the zone's UTC offsets at
 * both ends; false for partitions that are not time windows. */
bool tessera_time_window(const tessera_context *ctx, int64_t *start, int64_t *end,
                         int32_t *start_utc_offset, int32_t *end_utc_offset);
const char *tessera_asset_key(const tessera_context *ctx);
const char *tessera_run_id(const tessera_context *ctx);
uint32_t tessera_attempt(const tessera_context *ctx);
/* Unix seconds. */
int64_t tessera_now(const tessera_context *ctx);

/* The partitions of an input, in the order the mapping gives them (0 when none). */
size_t tessera_input_count(const tessera_inputs *inputs, const char *upstream);
const char *tessera_input_key(const tessera_inputs *inputs, const char *upstream, size_t index);
const uint8_t *tessera_input_data(const tessera_inputs *inputs, const char *upstream,
                                  size_t index, size_t *len);

/* Appends to the output's bytes. */
/* Whether the run asks for `asset` (a multi-asset run may ask for a subset). */
bool tessera_is_requested(const tessera_context *ctx, const char *asset);
/* The output of `asset`, one of the computation's assets (for a multi-asset; a single asset's
 * function writes to `out` itself). Write every requested asset's output. */
tessera_output *tessera_output_for(tessera_output *out, const char *asset);
/* The output of `asset` (NULL: the function's own asset) for one partition key of a run over
 * several: writing one per key (all tessera_partition_key_count of them) gives each partition its
 * own value and data version, and downstream partitions receive exactly the keys they map to.
 * Without them, the run's one output covers the whole range. */
tessera_output *tessera_output_for_partition(tessera_output *out, const char *asset,
                                             const char *key);

void tessera_output_write(tessera_output *out, const void *bytes, size_t len);
void tessera_output_printf(tessera_output *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void tessera_output_metadata_text(tessera_output *out, const char *key, const char *value);
void tessera_output_metadata_int(tessera_output *out, const char *key, int64_t value);
/* Sets the error message and returns the status to return: `return tessera_fail(out, ...)`. */
tessera_status tessera_fail(tessera_output *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
tessera_status tessera_invalid_input(tessera_output *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- In a sensor function --------------------------------------------------------------- */

/* The cursor the last evaluation left; NULL on the first. */
const char *tessera_sensor_cursor(const tessera_sensor_context *ctx);
/* Unix seconds of the last evaluation; false on the first. */
bool tessera_sensor_last_evaluation(const tessera_sensor_context *ctx, int64_t *at);
int64_t tessera_sensor_now(const tessera_sensor_context *ctx);

/* A run of `asset` for `partition_key` (NULL: unpartitioned). A run key already launched by
 * this sensor is dropped by the host. */
void tessera_sensor_request_run(tessera_sensor_result *result, const char *run_key,
                                const char *asset, const char *partition_key);
void tessera_sensor_set_cursor(tessera_sensor_result *result, const char *cursor);
void tessera_sensor_skip(tessera_sensor_result *result, const char *reason);
/* Adds a key to a dynamic partitions set, before the run requests are checked. */
void tessera_sensor_add_dynamic_key(tessera_sensor_result *result, const char *set_name,
                                    const char *key);
tessera_status tessera_sensor_fail(tessera_sensor_result *result, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- In a mapping function -------------------------------------------------------------- */

const char *tessera_map_name(const tessera_map_request *request);
/* The assets on each side of the input (the downstream asset reads the upstream one). */
const char *tessera_map_upstream_asset(const tessera_map_request *request);
const char *tessera_map_downstream_asset(const tessera_map_request *request);
/* The runs of keys asked about, in key order (NULL past the count). */
size_t tessera_map_range_count(const tessera_map_request *request);
const char *tessera_map_range_first(const tessera_map_request *request, size_t index);
const char *tessera_map_range_last(const tessera_map_request *request, size_t index);
/* Adds a run of keys of the other side to the answer. */
void tessera_map_answer(tessera_map_result *result, const char *first, const char *last);
tessera_status tessera_map_fail(tessera_map_result *result, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- In a check function ---------------------------------------------------------------- */

const char *tessera_check_name(const tessera_check_context *ctx);
const char *tessera_check_asset(const tessera_check_context *ctx);
/* Unix seconds. */
int64_t tessera_check_now(const tessera_check_context *ctx);
/* The values just written, one per partition key (a call that wrote one value for its range
 * gives it under each key); the key is empty for an unpartitioned asset. */
size_t tessera_check_value_count(const tessera_check_context *ctx);
const char *tessera_check_value_key(const tessera_check_context *ctx, size_t index);
const uint8_t *tessera_check_value_data(const tessera_check_context *ctx, size_t index,
                                        size_t *len);
/* One result per key given, no other: pass, or warn or fail with a description. */
tessera_check_result *tessera_check_pass(tessera_check_results *results, const char *key);
tessera_check_result *tessera_check_warn(tessera_check_results *results, const char *key,
                                         const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
tessera_check_result *tessera_check_fail(tessera_check_results *results, const char *key,
                                         const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void tessera_check_result_metadata_text(tessera_check_result *result, const char *key,
                                        const char *value);
void tessera_check_result_metadata_int(tessera_check_result *result, const char *key,
                                       int64_t value);
/* The check could not be evaluated at all: the host fails every partition it was given. */
tessera_status tessera_check_error(tessera_check_results *results, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- Logging ---------------------------------------------------------------------------- */

typedef enum tessera_log_level {
    TESSERA_TRACE = 0,
    TESSERA_DEBUG = 1,
    TESSERA_INFO = 2,
    TESSERA_WARN = 3,
    TESSERA_ERROR = 4,
} tessera_log_level;

/* A log line; the host adds the plugin, asset, partition and run. */
void tessera_log(tessera_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif

#endif /* TESSERA_H */
