/*
 * The C kit: the component's exports, built on the generated bindings (`plugin.h`), and the
 * helpers `tessera.h` declares. Declarations are written straight into the WIT records the
 * `definitions` export returns; arrays grow with realloc and strings are malloc'd, as the
 * bindings' post-return functions free them.
 */
#include "tessera.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_with_mappings.h"

/* The world's string types, by shorter names. */
typedef plugin_with_mappings_string_t str_t;
typedef plugin_with_mappings_option_string_t opt_str_t;

typedef tessera_plugin_types_asset_definition_t asset_def;
typedef tessera_plugin_types_computation_t computation_def;
typedef tessera_plugin_types_sensor_definition_t sensor_def;

struct tessera_plugin {
    tessera_plugin_types_definitions_t defs;
    /* Parallel to defs.computations and defs.sensors. */
    tessera_compute *computes;
    tessera_evaluate *evaluates;
    /* The exports `mappings` and `checks` declare; functions parallel to them. */
    exports_tessera_plugin_mappings_list_mapping_definition_t mappings;
    tessera_map *to_upstream;
    tessera_map *to_downstream;
    exports_tessera_plugin_checks_list_check_definition_t checks;
    tessera_check_evaluate *check_evaluates;
};

/* Handles hold indices: the arrays they point into move as they grow. */
struct tessera_asset {
    tessera_plugin *plugin;
    size_t index;
    /* Within the computation (0 but for a multi-asset's others). */
    size_t asset_index;
};

struct tessera_multi_asset {
    tessera_plugin *plugin;
    size_t index;
};

struct tessera_sensor {
    tessera_plugin *plugin;
    size_t index;
};

struct tessera_context {
    const tessera_plugin_types_materialize_context_t *raw;
    const char *asset;
    const char *key;
    char **keys;
    char *run_id;
};

struct tessera_inputs {
    const exports_tessera_plugin_guest_list_input_t *raw;
    /* NUL-terminated copies of every input partition's key, per input. */
    char ***keys;
};

typedef tessera_plugin_types_list_metadata_entry_t metadata_list;

struct tessera_output {
    uint8_t *data;
    size_t len;
    size_t cap;
    metadata_list metadata;
    char *error;
    /* The asset it is for; a multi-asset's other outputs hang off the first. */
    const char *asset;
    /* The partition key it is for (tessera_output_for_partition); NULL: the selection. */
    const char *partition;
    /* Whether anything was written to it (an untouched whole-selection output is dropped
     * when per-key ones exist). */
    bool touched;
    struct tessera_output *next;
};

struct tessera_mapping {
    tessera_plugin *plugin;
    size_t index;
};

struct tessera_map_request {
    const exports_tessera_plugin_mappings_mapping_request_t *raw;
    char *mapping;
    char *upstream_asset;
    char *downstream_asset;
    char **firsts;
    char **lasts;
};

struct tessera_map_result {
    exports_tessera_plugin_mappings_list_key_range_t ranges;
    char *error;
};

struct tessera_check {
    tessera_plugin *plugin;
    size_t index;
};

struct tessera_check_context {
    const exports_tessera_plugin_checks_check_context_t *raw;
    const exports_tessera_plugin_checks_list_input_partition_t *values;
    char *check;
    char *asset;
    char **keys;
};

struct tessera_check_results {
    exports_tessera_plugin_checks_list_check_result_t list;
    char *error;
};

struct tessera_check_result {
    tessera_check_results *results;
    size_t index;
};

struct tessera_sensor_context {
    const tessera_plugin_types_sensor_context_t *raw;
    char *cursor;
};

struct tessera_sensor_result {
    tessera_plugin_types_sensor_result_t raw;
    char *error;
};

/* ---- small helpers ---------------------------------------------------------------------- */

/* Allocation failure inside a plugin instance has no recovery: trap. */
static void *checked(void *p) {
    if (p == NULL) {
        __builtin_trap();
    }
    return p;
}

/* Grows an array by one zeroed element and returns it. */
#define PUSH(list)                                                                              \
    (list.ptr = checked(realloc(list.ptr, (list.len + 1) * sizeof *list.ptr)),                  \
     memset(&list.ptr[list.len], 0, sizeof *list.ptr), &list.ptr[list.len++])

static void set(str_t *s, const char *text) {
    plugin_with_mappings_string_dup(s, text != NULL ? text : "");
}

static void set_opt(opt_str_t *o, const char *text) {
    o->is_some = text != NULL;
    if (text != NULL) {
        set(&o->val, text);
    }
}

static bool eq(const str_t *s, const char *text) {
    size_t n = strlen(text);
    return s->len == n && memcmp(s->ptr, text, n) == 0;
}

static bool same(const str_t *a, const str_t *b) {
    return a->len == b->len && memcmp(a->ptr, b->ptr, a->len) == 0;
}

static char *cstr(const str_t *s) {
    char *c = checked(malloc(s->len + 1));
    memcpy(c, s->ptr, s->len);
    c[s->len] = '\0';
    return c;
}

static char *vformat(const char *fmt, va_list args) {
    va_list copy;
    va_copy(copy, args);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0) {
        n = 0;
    }
    char *text = checked(malloc((size_t)n + 1));
    vsnprintf(text, (size_t)n + 1, fmt, args);
    return text;
}

static asset_def *def_of(const tessera_asset *a) {
    return &a->plugin->defs.computations.ptr[a->index].assets.ptr[a->asset_index];
}

static sensor_def *sensor_of(const tessera_sensor *s) {
    return &s->plugin->defs.sensors.ptr[s->index];
}

/* ---- declaring -------------------------------------------------------------------------- */

tessera_asset *tessera_asset_new(tessera_plugin *plugin, const char *key, tessera_compute compute) {
    size_t index = plugin->defs.computations.len;
    computation_def *c = PUSH(plugin->defs.computations);
    set(&c->name, key);
    asset_def *a = PUSH(c->assets);
    set(&a->key, key);
    plugin->computes = checked(realloc(plugin->computes, (index + 1) * sizeof *plugin->computes));
    plugin->computes[index] = compute;
    tessera_asset *handle = checked(malloc(sizeof *handle));
    handle->plugin = plugin;
    handle->index = index;
    handle->asset_index = 0;
    return handle;
}

tessera_multi_asset *tessera_multi_asset_new(tessera_plugin *plugin, const char *name,
                                             tessera_compute compute) {
    size_t index = plugin->defs.computations.len;
    computation_def *c = PUSH(plugin->defs.computations);
    set(&c->name, name);
    plugin->computes = checked(realloc(plugin->computes, (index + 1) * sizeof *plugin->computes));
    plugin->computes[index] = compute;
    tessera_multi_asset *handle = checked(malloc(sizeof *handle));
    handle->plugin = plugin;
    handle->index = index;
    return handle;
}

tessera_asset *tessera_multi_asset_add(tessera_multi_asset *multi, const char *key) {
    computation_def *c = &multi->plugin->defs.computations.ptr[multi->index];
    size_t asset_index = c->assets.len;
    asset_def *a = PUSH(c->assets);
    set(&a->key, key);
    tessera_asset *handle = checked(malloc(sizeof *handle));
    handle->plugin = multi->plugin;
    handle->index = multi->index;
    handle->asset_index = asset_index;
    return handle;
}

void tessera_asset_description(tessera_asset *asset, const char *text) {
    set_opt(&def_of(asset)->description, text);
}

void tessera_asset_code_version(tessera_asset *asset, const char *version) {
    set_opt(&def_of(asset)->code_version, version);
}

static void text_value(tessera_plugin_types_metadata_entry_t *e, const char *key,
                       const char *value) {
    set(&e->key, key);
    e->value.tag = TESSERA_PLUGIN_TYPES_METADATA_VALUE_TEXT;
    set(&e->value.val.text, value);
}

static void int_value(tessera_plugin_types_metadata_entry_t *e, const char *key, int64_t value) {
    set(&e->key, key);
    e->value.tag = TESSERA_PLUGIN_TYPES_METADATA_VALUE_INTEGER;
    e->value.val.integer = value;
}

/* The bindings give each interface its own (identically laid out) list type: a macro pushes
 * onto any of them. */
#define metadata_text(list, key, value) text_value(PUSH((*(list))), key, value)
#define metadata_int(list, key, value) int_value(PUSH((*(list))), key, value)

void tessera_asset_metadata_text(tessera_asset *asset, const char *key, const char *value) {
    metadata_text(&def_of(asset)->metadata, key, value);
}

void tessera_asset_metadata_int(tessera_asset *asset, const char *key, int64_t value) {
    metadata_int(&def_of(asset)->metadata, key, value);
}

static tessera_plugin_types_partitions_t *partitions(tessera_asset *asset, uint8_t tag) {
    asset_def *a = def_of(asset);
    memset(&a->partitions, 0, sizeof a->partitions);
    a->partitions.is_some = true;
    a->partitions.val.tag = tag;
    return &a->partitions.val;
}

static void cadence(tessera_asset *asset, tessera_plugin_types_cadence_t c, const char *start) {
    tessera_plugin_types_partitions_t *p =
        partitions(asset, TESSERA_PLUGIN_TYPES_PARTITIONS_CADENCE);
    p->val.cadence.cadence = c;
    set(&p->val.cadence.start, start);
}

void tessera_asset_hourly(tessera_asset *asset, const char *start) {
    cadence(asset, TESSERA_PLUGIN_TYPES_CADENCE_HOURLY, start);
}

void tessera_asset_daily(tessera_asset *asset, const char *start) {
    cadence(asset, TESSERA_PLUGIN_TYPES_CADENCE_DAILY, start);
}

void tessera_asset_weekly(tessera_asset *asset, const char *start) {
    cadence(asset, TESSERA_PLUGIN_TYPES_CADENCE_WEEKLY, start);
}

void tessera_asset_monthly(tessera_asset *asset, const char *start) {
    cadence(asset, TESSERA_PLUGIN_TYPES_CADENCE_MONTHLY, start);
}

void tessera_asset_cron(tessera_asset *asset, const char *cron, const char *start, const char *fmt) {
    tessera_plugin_types_partitions_t *p = partitions(asset, TESSERA_PLUGIN_TYPES_PARTITIONS_CRON);
    set(&p->val.cron.cron_schedule, cron);
    set(&p->val.cron.start, start);
    set(&p->val.cron.fmt, fmt);
}

/* The cadence or cron definition timezone and end offset apply to: the asset's, or its last
 * dimension's. */
/* The dimensions of the asset's multi-dimensional (or sparse) partitions; NULL otherwise. */
static tessera_plugin_types_list_dimension_t *dimensions(asset_def *a) {
    if (!a->partitions.is_some) {
        return NULL;
    }
    switch (a->partitions.val.tag) {
    case TESSERA_PLUGIN_TYPES_PARTITIONS_MULTI:
        return &a->partitions.val.val.multi;
    case TESSERA_PLUGIN_TYPES_PARTITIONS_SPARSE_MULTI:
        return &a->partitions.val.val.sparse_multi.dimensions;
    default:
        return NULL;
    }
}

/* The asset's last dimension, when its partitions are multi-dimensional. */
static tessera_plugin_types_dimension_partitions_t *last_dimension(asset_def *a) {
    tessera_plugin_types_list_dimension_t *dims = dimensions(a);
    if (dims == NULL || dims->len == 0) {
        return NULL;
    }
    return &dims->ptr[dims->len - 1].partitions;
}

static tessera_plugin_types_cadence_partitions_t *last_cadence(tessera_asset *asset) {
    asset_def *a = def_of(asset);
    if (a->partitions.val.tag == TESSERA_PLUGIN_TYPES_PARTITIONS_CADENCE) {
        return &a->partitions.val.val.cadence;
    }
    tessera_plugin_types_dimension_partitions_t *d = last_dimension(a);
    return d != NULL && d->tag == TESSERA_PLUGIN_TYPES_DIMENSION_PARTITIONS_CADENCE
               ? &d->val.cadence
               : NULL;
}

static tessera_plugin_types_cron_partitions_t *last_cron(tessera_asset *asset) {
    asset_def *a = def_of(asset);
    if (a->partitions.val.tag == TESSERA_PLUGIN_TYPES_PARTITIONS_CRON) {
        return &a->partitions.val.val.cron;
    }
    tessera_plugin_types_dimension_partitions_t *d = last_dimension(a);
    return d != NULL && d->tag == TESSERA_PLUGIN_TYPES_DIMENSION_PARTITIONS_CRON ? &d->val.cron
                                                                                 : NULL;
}

void tessera_asset_timezone(tessera_asset *asset, const char *zone) {
    tessera_plugin_types_cadence_partitions_t *c = last_cadence(asset);
    tessera_plugin_types_cron_partitions_t *k = last_cron(asset);
    if (c != NULL) {
        set_opt(&c->timezone, zone);
    } else if (k != NULL) {
        set_opt(&k->timezone, zone);
    }
}

void tessera_asset_end_offset(tessera_asset *asset, int64_t offset) {
    tessera_plugin_types_cadence_partitions_t *c = last_cadence(asset);
    tessera_plugin_types_cron_partitions_t *k = last_cron(asset);
    if (c != NULL) {
        c->end_offset = offset;
    } else if (k != NULL) {
        k->end_offset = offset;
    }
}

void tessera_asset_exclude(tessera_asset *asset, const char *exclusion) {
    tessera_plugin_types_cadence_partitions_t *c = last_cadence(asset);
    tessera_plugin_types_cron_partitions_t *k = last_cron(asset);
    if (c != NULL) {
        c->exclusions.is_some = true;
        set(PUSH(c->exclusions.val), exclusion);
    } else if (k != NULL) {
        k->exclusions.is_some = true;
        set(PUSH(k->exclusions.val), exclusion);
    }
}

void tessera_asset_static(tessera_asset *asset, const char *const *keys, size_t count) {
    tessera_plugin_types_partitions_t *p =
        partitions(asset, TESSERA_PLUGIN_TYPES_PARTITIONS_STATIC_KEYS);
    for (size_t i = 0; i < count; i++) {
        set(PUSH(p->val.static_keys), keys[i]);
    }
}

void tessera_asset_dynamic(tessera_asset *asset, const char *set_name) {
    set(&partitions(asset, TESSERA_PLUGIN_TYPES_PARTITIONS_DYNAMIC)->val.dynamic, set_name);
}

/* A new dimension of the asset's multi-dimensional partitions (made multi if they were not). */
static tessera_plugin_types_dimension_partitions_t *dimension(tessera_asset *asset,
                                                             const char *name, uint8_t tag) {
    asset_def *a = def_of(asset);
    if (dimensions(a) == NULL) {
        partitions(asset, TESSERA_PLUGIN_TYPES_PARTITIONS_MULTI);
    }
    tessera_plugin_types_dimension_t *d = PUSH((*dimensions(a)));
    set(&d->name, name);
    d->partitions.tag = tag;
    return &d->partitions;
}

void tessera_asset_dimension_static(tessera_asset *asset, const char *name,
                                    const char *const *keys, size_t count) {
    tessera_plugin_types_dimension_partitions_t *p =
        dimension(asset, name, TESSERA_PLUGIN_TYPES_DIMENSION_PARTITIONS_STATIC_KEYS);
    for (size_t i = 0; i < count; i++) {
        set(PUSH(p->val.static_keys), keys[i]);
    }
}

static void dimension_cadence(tessera_asset *asset, const char *name,
                              tessera_plugin_types_cadence_t c, const char *start) {
    tessera_plugin_types_dimension_partitions_t *p =
        dimension(asset, name, TESSERA_PLUGIN_TYPES_DIMENSION_PARTITIONS_CADENCE);
    p->val.cadence.cadence = c;
    set(&p->val.cadence.start, start);
}

void tessera_asset_dimension_hourly(tessera_asset *asset, const char *name, const char *start) {
    dimension_cadence(asset, name, TESSERA_PLUGIN_TYPES_CADENCE_HOURLY, start);
}

void tessera_asset_dimension_daily(tessera_asset *asset, const char *name, const char *start) {
    dimension_cadence(asset, name, TESSERA_PLUGIN_TYPES_CADENCE_DAILY, start);
}

void tessera_asset_dimension_weekly(tessera_asset *asset, const char *name, const char *start) {
    dimension_cadence(asset, name, TESSERA_PLUGIN_TYPES_CADENCE_WEEKLY, start);
}

void tessera_asset_dimension_monthly(tessera_asset *asset, const char *name, const char *start) {
    dimension_cadence(asset, name, TESSERA_PLUGIN_TYPES_CADENCE_MONTHLY, start);
}

void tessera_asset_dimension_cron(tessera_asset *asset, const char *name, const char *cron,
                                  const char *start, const char *fmt) {
    tessera_plugin_types_dimension_partitions_t *p =
        dimension(asset, name, TESSERA_PLUGIN_TYPES_DIMENSION_PARTITIONS_CRON);
    set(&p->val.cron.cron_schedule, cron);
    set(&p->val.cron.start, start);
    set(&p->val.cron.fmt, fmt);
}

void tessera_asset_dimension_dynamic(tessera_asset *asset, const char *name, const char *set_name) {
    set(&dimension(asset, name, TESSERA_PLUGIN_TYPES_DIMENSION_PARTITIONS_DYNAMIC)->val.dynamic,
        set_name);
}

/* The asset's sparse partitions, made sparse from the dimensions declared so far. */
static tessera_plugin_types_sparse_multi_partitions_t *sparse(tessera_asset *asset) {
    asset_def *a = def_of(asset);
    if (!a->partitions.is_some ||
        a->partitions.val.tag != TESSERA_PLUGIN_TYPES_PARTITIONS_SPARSE_MULTI) {
        tessera_plugin_types_list_dimension_t dims = {NULL, 0};
        if (a->partitions.is_some && a->partitions.val.tag == TESSERA_PLUGIN_TYPES_PARTITIONS_MULTI) {
            dims = a->partitions.val.val.multi;
        }
        a->partitions.is_some = true;
        memset(&a->partitions.val, 0, sizeof a->partitions.val);
        a->partitions.val.tag = TESSERA_PLUGIN_TYPES_PARTITIONS_SPARSE_MULTI;
        a->partitions.val.val.sparse_multi.dimensions = dims;
    }
    return &a->partitions.val.val.sparse_multi;
}

void tessera_asset_combine(tessera_asset *asset, const char *const *dimension_names,
                           size_t count) {
    tessera_plugin_types_sparse_multi_partitions_t *s = sparse(asset);
    for (size_t i = 0; i < count; i++) {
        set(PUSH(s->combined), dimension_names[i]);
    }
}

void tessera_asset_combination(tessera_asset *asset, const char *const *keys) {
    tessera_plugin_types_sparse_multi_partitions_t *s = sparse(asset);
    s->combinations.tag = TESSERA_PLUGIN_TYPES_COMBINATION_SOURCE_LISTED;
    plugin_with_mappings_list_string_t *row = PUSH(s->combinations.val.listed);
    for (size_t i = 0; i < s->combined.len; i++) {
        set(PUSH((*row)), keys[i]);
    }
}

void tessera_asset_combinations_dynamic(tessera_asset *asset, const char *set_name) {
    tessera_plugin_types_sparse_multi_partitions_t *s = sparse(asset);
    s->combinations.tag = TESSERA_PLUGIN_TYPES_COMBINATION_SOURCE_DYNAMIC;
    set(&s->combinations.val.dynamic, set_name);
}

static void backfill_policy(tessera_asset *asset, uint8_t tag, uint32_t max_partitions_per_run) {
    tessera_plugin_types_option_backfill_policy_t *p = &def_of(asset)->backfill_policy;
    p->is_some = true;
    p->val.tag = tag;
    if (tag == TESSERA_PLUGIN_TYPES_BACKFILL_POLICY_MULTI_RUN) {
        p->val.val.multi_run = max_partitions_per_run;
    }
}

void tessera_asset_single_partition(tessera_asset *asset) {
    backfill_policy(asset, TESSERA_PLUGIN_TYPES_BACKFILL_POLICY_SINGLE_PARTITION, 0);
}

void tessera_asset_single_run(tessera_asset *asset) {
    backfill_policy(asset, TESSERA_PLUGIN_TYPES_BACKFILL_POLICY_SINGLE_RUN, 0);
}

void tessera_asset_multi_run(tessera_asset *asset, uint32_t max_partitions_per_run) {
    backfill_policy(asset, TESSERA_PLUGIN_TYPES_BACKFILL_POLICY_MULTI_RUN, max_partitions_per_run);
}

static tessera_plugin_types_asset_input_t *input(tessera_asset *asset, const char *upstream) {
    tessera_plugin_types_asset_input_t *in = PUSH(def_of(asset)->inputs);
    set(&in->asset, upstream);
    return in;
}

static void input_mapped(tessera_asset *asset, const char *upstream, uint8_t tag) {
    tessera_plugin_types_asset_input_t *in = input(asset, upstream);
    in->mapping.is_some = true;
    in->mapping.val.tag = tag;
}

void tessera_asset_input(tessera_asset *asset, const char *upstream) {
    input(asset, upstream);
}

void tessera_asset_input_identity(tessera_asset *asset, const char *upstream) {
    input_mapped(asset, upstream, TESSERA_PLUGIN_TYPES_PARTITION_MAPPING_IDENTITY);
}

void tessera_asset_input_all(tessera_asset *asset, const char *upstream) {
    input_mapped(asset, upstream, TESSERA_PLUGIN_TYPES_PARTITION_MAPPING_ALL);
}

void tessera_asset_input_last(tessera_asset *asset, const char *upstream) {
    input_mapped(asset, upstream, TESSERA_PLUGIN_TYPES_PARTITION_MAPPING_LAST);
}

void tessera_asset_input_window(tessera_asset *asset, const char *upstream, int64_t start_offset,
                                int64_t end_offset, bool allow_nonexistent_upstream_partitions) {
    tessera_plugin_types_asset_input_t *in = input(asset, upstream);
    in->mapping.is_some = true;
    in->mapping.val.tag = TESSERA_PLUGIN_TYPES_PARTITION_MAPPING_TIME_WINDOW;
    in->mapping.val.val.time_window.start_offset = start_offset;
    in->mapping.val.val.time_window.end_offset = end_offset;
    in->mapping.val.val.time_window.allow_nonexistent_upstream_partitions =
        allow_nonexistent_upstream_partitions;
}

void tessera_asset_input_specific(tessera_asset *asset, const char *upstream,
                                  const char *const *keys, size_t count) {
    tessera_plugin_types_asset_input_t *in = input(asset, upstream);
    in->mapping.is_some = true;
    in->mapping.val.tag = TESSERA_PLUGIN_TYPES_PARTITION_MAPPING_SPECIFIC;
    for (size_t i = 0; i < count; i++) {
        set(PUSH(in->mapping.val.val.specific), keys[i]);
    }
}

/* The last input declared, if it has the mapping `tag`. */
static tessera_plugin_types_partition_mapping_t *last_mapping(tessera_asset *asset, uint8_t tag) {
    asset_def *a = def_of(asset);
    if (a->inputs.len == 0) {
        return NULL;
    }
    tessera_plugin_types_asset_input_t *in = &a->inputs.ptr[a->inputs.len - 1];
    if (!in->mapping.is_some || in->mapping.val.tag != tag) {
        return NULL;
    }
    return &in->mapping.val;
}

/* Adds upstream -> downstream to a static map, merging pairs of one upstream key. */
static void static_pair(tessera_plugin_types_list_static_pair_t *pairs, const char *upstream_key,
                        const char *downstream_key) {
    tessera_plugin_types_static_pair_t *pair = NULL;
    for (size_t i = 0; i < pairs->len; i++) {
        if (eq(&pairs->ptr[i].upstream, upstream_key)) {
            pair = &pairs->ptr[i];
        }
    }
    if (pair == NULL) {
        pair = PUSH((*pairs));
        set(&pair->upstream, upstream_key);
    }
    set(PUSH(pair->downstream), downstream_key);
}

void tessera_asset_input_static_map(tessera_asset *asset, const char *upstream) {
    input_mapped(asset, upstream, TESSERA_PLUGIN_TYPES_PARTITION_MAPPING_STATIC_MAP);
}

void tessera_asset_input_static_pair(tessera_asset *asset, const char *upstream_key,
                                     const char *downstream_key) {
    tessera_plugin_types_partition_mapping_t *m =
        last_mapping(asset, TESSERA_PLUGIN_TYPES_PARTITION_MAPPING_STATIC_MAP);
    if (m != NULL) {
        static_pair(&m->val.static_map, upstream_key, downstream_key);
    }
}

void tessera_asset_input_multi_to_single(tessera_asset *asset, const char *upstream,
                                         const char *dimension) {
    tessera_plugin_types_asset_input_t *in = input(asset, upstream);
    in->mapping.is_some = true;
    in->mapping.val.tag = TESSERA_PLUGIN_TYPES_PARTITION_MAPPING_MULTI_TO_SINGLE;
    set_opt(&in->mapping.val.val.multi_to_single, dimension);
}

void tessera_asset_input_plugin_mapping(tessera_asset *asset, const char *upstream,
                                        const char *mapping) {
    tessera_plugin_types_asset_input_t *in = input(asset, upstream);
    in->mapping.is_some = true;
    in->mapping.val.tag = TESSERA_PLUGIN_TYPES_PARTITION_MAPPING_PLUGIN;
    set(&in->mapping.val.val.plugin, mapping);
}

void tessera_asset_input_multi(tessera_asset *asset, const char *upstream) {
    input_mapped(asset, upstream, TESSERA_PLUGIN_TYPES_PARTITION_MAPPING_MULTI);
}

/* The mapping of (upstream, downstream) dimensions of the last input's multi mapping: the one
 * declared, or a new one of kind `tag`. */
static tessera_plugin_types_dimension_mapping_kind_t *
dimension_mapping(tessera_asset *asset, const char *upstream_dimension,
                  const char *downstream_dimension, uint8_t tag) {
    tessera_plugin_types_partition_mapping_t *m =
        last_mapping(asset, TESSERA_PLUGIN_TYPES_PARTITION_MAPPING_MULTI);
    if (m == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < m->val.multi.len; i++) {
        tessera_plugin_types_dimension_mapping_t *d = &m->val.multi.ptr[i];
        if (eq(&d->upstream_dimension, upstream_dimension) &&
            eq(&d->downstream_dimension, downstream_dimension) && d->mapping.tag == tag) {
            return &d->mapping;
        }
    }
    tessera_plugin_types_dimension_mapping_t *d = PUSH(m->val.multi);
    set(&d->upstream_dimension, upstream_dimension);
    set(&d->downstream_dimension, downstream_dimension);
    d->mapping.tag = tag;
    return &d->mapping;
}

void tessera_asset_input_dimension_identity(tessera_asset *asset, const char *upstream_dimension,
                                            const char *downstream_dimension) {
    dimension_mapping(asset, upstream_dimension, downstream_dimension,
                      TESSERA_PLUGIN_TYPES_DIMENSION_MAPPING_KIND_IDENTITY);
}

void tessera_asset_input_dimension_all(tessera_asset *asset, const char *upstream_dimension,
                                       const char *downstream_dimension) {
    dimension_mapping(asset, upstream_dimension, downstream_dimension,
                      TESSERA_PLUGIN_TYPES_DIMENSION_MAPPING_KIND_ALL);
}

void tessera_asset_input_dimension_last(tessera_asset *asset, const char *upstream_dimension,
                                        const char *downstream_dimension) {
    dimension_mapping(asset, upstream_dimension, downstream_dimension,
                      TESSERA_PLUGIN_TYPES_DIMENSION_MAPPING_KIND_LAST);
}

void tessera_asset_input_dimension_specific(tessera_asset *asset, const char *upstream_dimension,
                                            const char *downstream_dimension,
                                            const char *const *keys, size_t count) {
    tessera_plugin_types_dimension_mapping_kind_t *k =
        dimension_mapping(asset, upstream_dimension, downstream_dimension,
                          TESSERA_PLUGIN_TYPES_DIMENSION_MAPPING_KIND_SPECIFIC);
    for (size_t i = 0; k != NULL && i < count; i++) {
        set(PUSH(k->val.specific), keys[i]);
    }
}

void tessera_asset_input_dimension_window(tessera_asset *asset, const char *upstream_dimension,
                                          const char *downstream_dimension, int64_t start_offset,
                                          int64_t end_offset,
                                          bool allow_nonexistent_upstream_partitions) {
    tessera_plugin_types_dimension_mapping_kind_t *k =
        dimension_mapping(asset, upstream_dimension, downstream_dimension,
                          TESSERA_PLUGIN_TYPES_DIMENSION_MAPPING_KIND_TIME_WINDOW);
    if (k != NULL) {
        k->val.time_window.start_offset = start_offset;
        k->val.time_window.end_offset = end_offset;
        k->val.time_window.allow_nonexistent_upstream_partitions =
            allow_nonexistent_upstream_partitions;
    }
}

void tessera_asset_input_dimension_static_pair(tessera_asset *asset,
                                               const char *upstream_dimension,
                                               const char *downstream_dimension,
                                               const char *upstream_key,
                                               const char *downstream_key) {
    tessera_plugin_types_dimension_mapping_kind_t *k =
        dimension_mapping(asset, upstream_dimension, downstream_dimension,
                          TESSERA_PLUGIN_TYPES_DIMENSION_MAPPING_KIND_STATIC_MAP);
    if (k != NULL) {
        static_pair(&k->val.static_map, upstream_key, downstream_key);
    }
}

void tessera_asset_input_allow_missing(tessera_asset *asset) {
    asset_def *a = def_of(asset);
    if (a->inputs.len > 0) {
        a->inputs.ptr[a->inputs.len - 1].allow_missing = true;
    }
}

static void input_rollup(tessera_asset *asset, uint8_t tag, uint64_t seconds) {
    asset_def *a = def_of(asset);
    if (a->inputs.len > 0) {
        tessera_plugin_types_option_rollup_policy_t *r = &a->inputs.ptr[a->inputs.len - 1].rollup;
        r->is_some = true;
        r->val.tag = tag;
        if (tag == TESSERA_PLUGIN_TYPES_ROLLUP_POLICY_WAIT_UNTIL) {
            r->val.val.wait_until = seconds;
        }
    }
}

void tessera_asset_input_wait_all(tessera_asset *asset) {
    input_rollup(asset, TESSERA_PLUGIN_TYPES_ROLLUP_POLICY_WAIT_ALL, 0);
}

void tessera_asset_input_wait_until(tessera_asset *asset, uint64_t seconds_after_window_end) {
    input_rollup(asset, TESSERA_PLUGIN_TYPES_ROLLUP_POLICY_WAIT_UNTIL, seconds_after_window_end);
}

void tessera_asset_input_run_partial(tessera_asset *asset) {
    input_rollup(asset, TESSERA_PLUGIN_TYPES_ROLLUP_POLICY_RUN_PARTIAL, 0);
}

tessera_sensor *tessera_sensor_new(tessera_plugin *plugin, const char *name,
                                   tessera_evaluate evaluate, uint32_t minimum_interval_seconds) {
    size_t index = plugin->defs.sensors.len;
    sensor_def *s = PUSH(plugin->defs.sensors);
    set(&s->name, name);
    s->minimum_interval_seconds = minimum_interval_seconds;
    plugin->evaluates =
        checked(realloc(plugin->evaluates, (index + 1) * sizeof *plugin->evaluates));
    plugin->evaluates[index] = evaluate;
    tessera_sensor *handle = checked(malloc(sizeof *handle));
    handle->plugin = plugin;
    handle->index = index;
    return handle;
}

void tessera_sensor_description(tessera_sensor *sensor, const char *text) {
    set_opt(&sensor_of(sensor)->description, text);
}

void tessera_sensor_target(tessera_sensor *sensor, const char *asset) {
    set(PUSH(sensor_of(sensor)->targets), asset);
}

tessera_mapping *tessera_mapping_new(tessera_plugin *plugin, const char *name,
                                     tessera_map to_upstream, tessera_map to_downstream) {
    size_t index = plugin->mappings.len;
    set(&PUSH(plugin->mappings)->name, name);
    plugin->to_upstream =
        checked(realloc(plugin->to_upstream, (index + 1) * sizeof *plugin->to_upstream));
    plugin->to_downstream =
        checked(realloc(plugin->to_downstream, (index + 1) * sizeof *plugin->to_downstream));
    plugin->to_upstream[index] = to_upstream;
    plugin->to_downstream[index] = to_downstream;
    tessera_mapping *handle = checked(malloc(sizeof *handle));
    handle->plugin = plugin;
    handle->index = index;
    return handle;
}

void tessera_mapping_description(tessera_mapping *mapping, const char *text) {
    set_opt(&mapping->plugin->mappings.ptr[mapping->index].description, text);
}

tessera_check *tessera_check_new(tessera_plugin *plugin, const char *name, const char *asset,
                                 tessera_check_evaluate evaluate) {
    size_t index = plugin->checks.len;
    exports_tessera_plugin_checks_check_definition_t *c = PUSH(plugin->checks);
    set(&c->name, name);
    set(&c->asset, asset);
    plugin->check_evaluates = checked(
        realloc(plugin->check_evaluates, (index + 1) * sizeof *plugin->check_evaluates));
    plugin->check_evaluates[index] = evaluate;
    tessera_check *handle = checked(malloc(sizeof *handle));
    handle->plugin = plugin;
    handle->index = index;
    return handle;
}

void tessera_check_description(tessera_check *check, const char *text) {
    set_opt(&check->plugin->checks.ptr[check->index].description, text);
}

void tessera_check_blocking(tessera_check *check) {
    check->plugin->checks.ptr[check->index].blocking = true;
}

/* ---- in an asset function --------------------------------------------------------------- */

const char *tessera_partition_key(const tessera_context *ctx) {
    return ctx->key;
}

size_t tessera_partition_key_count(const tessera_context *ctx) {
    return ctx->raw->partition_keys.len;
}

const char *tessera_partition_key_at(const tessera_context *ctx, size_t index) {
    return index < ctx->raw->partition_keys.len ? ctx->keys[index] : NULL;
}

bool tessera_time_window(const tessera_context *ctx, int64_t *start, int64_t *end,
                         int32_t *start_utc_offset, int32_t *end_utc_offset) {
    if (!ctx->raw->time_window.is_some) {
        return false;
    }
    const tessera_plugin_types_time_window_t *w = &ctx->raw->time_window.val;
    if (start != NULL) *start = w->start;
    if (end != NULL) *end = w->end;
    if (start_utc_offset != NULL) *start_utc_offset = w->start_utc_offset;
    if (end_utc_offset != NULL) *end_utc_offset = w->end_utc_offset;
    return true;
}

const char *tessera_asset_key(const tessera_context *ctx) {
    return ctx->asset;
}

const char *tessera_run_id(const tessera_context *ctx) {
    return ctx->run_id;
}

uint32_t tessera_attempt(const tessera_context *ctx) {
    return ctx->raw->attempt;
}

int64_t tessera_now(const tessera_context *ctx) {
    return ctx->raw->now;
}

static long input_index(const tessera_inputs *inputs, const char *upstream) {
    for (size_t i = 0; i < inputs->raw->len; i++) {
        if (eq(&inputs->raw->ptr[i].asset, upstream)) {
            return (long)i;
        }
    }
    return -1;
}

size_t tessera_input_count(const tessera_inputs *inputs, const char *upstream) {
    long i = input_index(inputs, upstream);
    return i < 0 ? 0 : inputs->raw->ptr[i].partitions.len;
}

const char *tessera_input_key(const tessera_inputs *inputs, const char *upstream, size_t index) {
    long i = input_index(inputs, upstream);
    if (i < 0 || index >= inputs->raw->ptr[i].partitions.len) {
        return NULL;
    }
    return inputs->keys[i][index];
}

const uint8_t *tessera_input_data(const tessera_inputs *inputs, const char *upstream,
                                  size_t index, size_t *len) {
    long i = input_index(inputs, upstream);
    if (i < 0 || index >= inputs->raw->ptr[i].partitions.len) {
        if (len != NULL) *len = 0;
        return NULL;
    }
    const plugin_with_mappings_list_u8_t *data = &inputs->raw->ptr[i].partitions.ptr[index].data;
    if (len != NULL) *len = data->len;
    return data->ptr;
}

bool tessera_is_requested(const tessera_context *ctx, const char *asset) {
    if (ctx->raw->assets.len == 0) {
        return true;
    }
    for (size_t i = 0; i < ctx->raw->assets.len; i++) {
        if (eq(&ctx->raw->assets.ptr[i], asset)) {
            return true;
        }
    }
    return false;
}

static char *copy_text(const char *text) {
    size_t n = strlen(text) + 1;
    char *copy = checked(malloc(n));
    memcpy(copy, text, n);
    return copy;
}

static bool same_text(const char *a, const char *b) {
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* The output of (asset, partition), added to the list hanging off `out` when new. */
static tessera_output *output_of(tessera_output *out, const char *asset, const char *partition) {
    tessera_output *o = out;
    for (; o != NULL; o = o->next) {
        if (o->asset != NULL && strcmp(o->asset, asset) == 0 && same_text(o->partition, partition)) {
            return o;
        }
        if (o->next == NULL) {
            break;
        }
    }
    tessera_output *added = checked(calloc(1, sizeof *added));
    added->asset = copy_text(asset);
    added->partition = partition != NULL ? copy_text(partition) : NULL;
    o->next = added;
    return added;
}

tessera_output *tessera_output_for(tessera_output *out, const char *asset) {
    return output_of(out, asset, NULL);
}

tessera_output *tessera_output_for_partition(tessera_output *out, const char *asset,
                                             const char *key) {
    return output_of(out, asset != NULL ? asset : out->asset, key);
}

void tessera_output_write(tessera_output *out, const void *bytes, size_t len) {
    out->touched = true;
    if (out->len + len > out->cap) {
        size_t cap = out->cap == 0 ? 256 : out->cap;
        while (cap < out->len + len) {
            cap *= 2;
        }
        out->data = checked(realloc(out->data, cap));
        out->cap = cap;
    }
    memcpy(out->data + out->len, bytes, len);
    out->len += len;
}

void tessera_output_printf(tessera_output *out, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    char *text = vformat(fmt, args);
    va_end(args);
    tessera_output_write(out, text, strlen(text));
    free(text);
}

void tessera_output_metadata_text(tessera_output *out, const char *key, const char *value) {
    out->touched = true;
    metadata_text(&out->metadata, key, value);
}

void tessera_output_metadata_int(tessera_output *out, const char *key, int64_t value) {
    out->touched = true;
    metadata_int(&out->metadata, key, value);
}

tessera_status tessera_fail(tessera_output *out, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    out->error = vformat(fmt, args);
    va_end(args);
    return TESSERA_FAILED;
}

tessera_status tessera_invalid_input(tessera_output *out, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    out->error = vformat(fmt, args);
    va_end(args);
    return TESSERA_INVALID_INPUT;
}

/* ---- in a sensor function --------------------------------------------------------------- */

const char *tessera_sensor_cursor(const tessera_sensor_context *ctx) {
    return ctx->cursor;
}

bool tessera_sensor_last_evaluation(const tessera_sensor_context *ctx, int64_t *at) {
    if (ctx->raw->last_evaluation.is_some && at != NULL) {
        *at = ctx->raw->last_evaluation.val;
    }
    return ctx->raw->last_evaluation.is_some;
}

int64_t tessera_sensor_now(const tessera_sensor_context *ctx) {
    return ctx->raw->now;
}

void tessera_sensor_request_run(tessera_sensor_result *result, const char *run_key,
                                const char *asset, const char *partition_key) {
    tessera_plugin_types_run_request_t *r = PUSH(result->raw.run_requests);
    set_opt(&r->run_key, run_key);
    set(PUSH(r->assets), asset);
    if (partition_key != NULL) {
        r->partition.tag = TESSERA_PLUGIN_TYPES_PARTITION_SELECTION_KEY;
        set(&r->partition.val.key, partition_key);
    } else {
        r->partition.tag = TESSERA_PLUGIN_TYPES_PARTITION_SELECTION_NONE;
    }
}

void tessera_sensor_set_cursor(tessera_sensor_result *result, const char *cursor) {
    set_opt(&result->raw.cursor, cursor);
}

void tessera_sensor_skip(tessera_sensor_result *result, const char *reason) {
    set_opt(&result->raw.skip_reason, reason);
}

void tessera_sensor_add_dynamic_key(tessera_sensor_result *result, const char *set_name,
                                    const char *key) {
    tessera_plugin_types_dynamic_partitions_request_t *d = NULL;
    for (size_t i = 0; i < result->raw.dynamic_partitions.len; i++) {
        if (eq(&result->raw.dynamic_partitions.ptr[i].name, set_name)) {
            d = &result->raw.dynamic_partitions.ptr[i];
        }
    }
    if (d == NULL) {
        d = PUSH(result->raw.dynamic_partitions);
        set(&d->name, set_name);
    }
    set(PUSH(d->add), key);
}

tessera_status tessera_sensor_fail(tessera_sensor_result *result, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    result->error = vformat(fmt, args);
    va_end(args);
    return TESSERA_FAILED;
}

/* ---- in a mapping function ------------------------------------------------------------- */

const char *tessera_map_name(const tessera_map_request *request) {
    return request->mapping;
}

const char *tessera_map_upstream_asset(const tessera_map_request *request) {
    return request->upstream_asset;
}

const char *tessera_map_downstream_asset(const tessera_map_request *request) {
    return request->downstream_asset;
}

size_t tessera_map_range_count(const tessera_map_request *request) {
    return request->raw->ranges.len;
}

const char *tessera_map_range_first(const tessera_map_request *request, size_t index) {
    return index < request->raw->ranges.len ? request->firsts[index] : NULL;
}

const char *tessera_map_range_last(const tessera_map_request *request, size_t index) {
    return index < request->raw->ranges.len ? request->lasts[index] : NULL;
}

void tessera_map_answer(tessera_map_result *result, const char *first, const char *last) {
    exports_tessera_plugin_mappings_key_range_t *r = PUSH(result->ranges);
    set(&r->first, first);
    set(&r->last, last);
}

tessera_status tessera_map_fail(tessera_map_result *result, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    result->error = vformat(fmt, args);
    va_end(args);
    return TESSERA_FAILED;
}

/* ---- in a check function ---------------------------------------------------------------- */

const char *tessera_check_name(const tessera_check_context *ctx) {
    return ctx->check;
}

const char *tessera_check_asset(const tessera_check_context *ctx) {
    return ctx->asset;
}

int64_t tessera_check_now(const tessera_check_context *ctx) {
    return ctx->raw->now;
}

size_t tessera_check_value_count(const tessera_check_context *ctx) {
    return ctx->values->len;
}

const char *tessera_check_value_key(const tessera_check_context *ctx, size_t index) {
    return index < ctx->values->len ? ctx->keys[index] : NULL;
}

const uint8_t *tessera_check_value_data(const tessera_check_context *ctx, size_t index,
                                        size_t *len) {
    if (index >= ctx->values->len) {
        if (len != NULL) {
            *len = 0;
        }
        return NULL;
    }
    if (len != NULL) {
        *len = ctx->values->ptr[index].data.len;
    }
    return ctx->values->ptr[index].data.ptr;
}

/* `description` is taken (NULL: none). */
static tessera_check_result *check_result(tessera_check_results *results, const char *key,
                                          uint8_t outcome, char *description) {
    size_t index = results->list.len;
    exports_tessera_plugin_checks_check_result_t *r = PUSH(results->list);
    set(&r->partition, key);
    r->outcome = outcome;
    set_opt(&r->description, description);
    free(description);
    tessera_check_result *handle = checked(malloc(sizeof *handle));
    handle->results = results;
    handle->index = index;
    return handle;
}

tessera_check_result *tessera_check_pass(tessera_check_results *results, const char *key) {
    return check_result(results, key, EXPORTS_TESSERA_PLUGIN_CHECKS_CHECK_OUTCOME_PASS, NULL);
}

tessera_check_result *tessera_check_warn(tessera_check_results *results, const char *key,
                                         const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    char *description = vformat(fmt, args);
    va_end(args);
    return check_result(results, key, EXPORTS_TESSERA_PLUGIN_CHECKS_CHECK_OUTCOME_WARN,
                        description);
}

tessera_check_result *tessera_check_fail(tessera_check_results *results, const char *key,
                                         const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    char *description = vformat(fmt, args);
    va_end(args);
    return check_result(results, key, EXPORTS_TESSERA_PLUGIN_CHECKS_CHECK_OUTCOME_FAIL,
                        description);
}

void tessera_check_result_metadata_text(tessera_check_result *result, const char *key,
                                        const char *value) {
    metadata_text(&result->results->list.ptr[result->index].metadata, key, value);
}

void tessera_check_result_metadata_int(tessera_check_result *result, const char *key,
                                       int64_t value) {
    metadata_int(&result->results->list.ptr[result->index].metadata, key, value);
}

tessera_status tessera_check_error(tessera_check_results *results, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    results->error = vformat(fmt, args);
    va_end(args);
    return TESSERA_FAILED;
}

/* ---- logging ---------------------------------------------------------------------------- */

void tessera_log(tessera_log_level level, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    char *text = vformat(fmt, args);
    va_end(args);
    str_t message = {(uint8_t *)text, strlen(text)};
    plugin_with_mappings_list_tuple2_string_string_t fields = {NULL, 0};
    tessera_plugin_host_log((tessera_plugin_host_log_level_t)level, &message, &fields);
    free(text);
}

/* ---- the exports ------------------------------------------------------------------------ */

static void plugin_error(exports_tessera_plugin_guest_plugin_error_t *err, tessera_status status,
                         const char *message) {
    if (status == TESSERA_INVALID_INPUT) {
        err->tag = TESSERA_PLUGIN_TYPES_PLUGIN_ERROR_INVALID_INPUT;
        set(&err->val.invalid_input, message);
    } else {
        err->tag = TESSERA_PLUGIN_TYPES_PLUGIN_ERROR_FAILED;
        set(&err->val.failed, message);
    }
}

void exports_tessera_plugin_guest_definitions(exports_tessera_plugin_guest_plugin_definitions_t *ret) {
    tessera_plugin plugin;
    memset(&plugin, 0, sizeof plugin);
    tessera_define(&plugin);
    *ret = plugin.defs;
}

bool exports_tessera_plugin_guest_materialize(
    exports_tessera_plugin_guest_materialize_context_t *context,
    exports_tessera_plugin_guest_list_input_t *inputs,
    exports_tessera_plugin_guest_list_output_t *ret,
    exports_tessera_plugin_guest_plugin_error_t *err) {
    tessera_plugin plugin;
    memset(&plugin, 0, sizeof plugin);
    tessera_define(&plugin);
    size_t found = plugin.defs.computations.len;
    for (size_t i = 0; i < plugin.defs.computations.len; i++) {
        if (same(&plugin.defs.computations.ptr[i].name, &context->computation)) {
            found = i;
        }
    }
    if (found == plugin.defs.computations.len) {
        char *name = cstr(&context->computation);
        char *message = NULL;
        size_t n = strlen(name) + 64;
        message = checked(malloc(n));
        snprintf(message, n, "this plugin has no computation \"%s\"", name);
        plugin_error(err, TESSERA_INVALID_INPUT, message);
        return false;
    }
    const asset_def *asset = &plugin.defs.computations.ptr[found].assets.ptr[0];

    tessera_context ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.raw = context;
    ctx.asset = cstr(&asset->key);
    ctx.run_id = cstr(&context->run_id);
    ctx.keys = checked(calloc(context->partition_keys.len + 1, sizeof *ctx.keys));
    for (size_t i = 0; i < context->partition_keys.len; i++) {
        ctx.keys[i] = cstr(&context->partition_keys.ptr[i]);
    }
    if (context->partition.tag == TESSERA_PLUGIN_TYPES_PARTITION_SELECTION_KEY) {
        ctx.key = cstr(&context->partition.val.key);
    }

    tessera_inputs in;
    in.raw = inputs;
    in.keys = checked(calloc(inputs->len + 1, sizeof *in.keys));
    for (size_t i = 0; i < inputs->len; i++) {
        const tessera_plugin_types_list_input_partition_t *parts = &inputs->ptr[i].partitions;
        in.keys[i] = checked(calloc(parts->len + 1, sizeof *in.keys[i]));
        for (size_t j = 0; j < parts->len; j++) {
            in.keys[i][j] = cstr(&parts->ptr[j].key);
        }
    }

    tessera_output out;
    memset(&out, 0, sizeof out);
    out.asset = ctx.asset;
    tessera_status status = plugin.computes[found](&ctx, &in, &out);
    if (status != TESSERA_OK) {
        plugin_error(err, status, out.error != NULL ? out.error : "the asset function failed");
        return false;
    }
    /* Per requested asset of the computation, in declaration order: its outputs per key when
     * it wrote any (and its whole-selection output only if that was written to as well: the
     * host refuses the mix), else its whole-selection output. */
    const computation_def *c = &plugin.defs.computations.ptr[found];
    size_t total = 0;
    for (tessera_output *o = &out; o != NULL; o = o->next) {
        total++;
    }
    ret->ptr = checked(calloc(total, sizeof *ret->ptr));
    ret->len = 0;
    for (size_t i = 0; i < c->assets.len; i++) {
        char *key = cstr(&c->assets.ptr[i].key);
        if (!tessera_is_requested(&ctx, key)) {
            continue;
        }
        bool per_key = false;
        for (tessera_output *o = &out; o != NULL; o = o->next) {
            per_key |= o->asset != NULL && strcmp(o->asset, key) == 0 && o->partition != NULL;
        }
        bool written = false;
        for (tessera_output *o = &out; o != NULL; o = o->next) {
            if (o->asset == NULL || strcmp(o->asset, key) != 0 ||
                (per_key && o->partition == NULL && !o->touched)) {
                continue;
            }
            exports_tessera_plugin_guest_output_t *r = &ret->ptr[ret->len++];
            set(&r->asset, key);
            set_opt(&r->partition, o->partition);
            r->data.ptr = o->data;
            r->data.len = o->len;
            r->metadata = o->metadata;
            written = true;
        }
        if (!written) {
            size_t n = strlen(key) + 64;
            char *message = checked(malloc(n));
            snprintf(message, n, "the function wrote no output for asset \"%s\"", key);
            plugin_error(err, TESSERA_FAILED, message);
            return false;
        }
    }
    return true;
}

bool exports_tessera_plugin_guest_evaluate_sensor(
    exports_tessera_plugin_guest_sensor_context_t *context,
    exports_tessera_plugin_guest_sensor_result_t *ret,
    exports_tessera_plugin_guest_plugin_error_t *err) {
    tessera_plugin plugin;
    memset(&plugin, 0, sizeof plugin);
    tessera_define(&plugin);
    for (size_t i = 0; i < plugin.defs.sensors.len; i++) {
        if (!same(&plugin.defs.sensors.ptr[i].name, &context->sensor)) {
            continue;
        }
        tessera_sensor_context ctx;
        ctx.raw = context;
        ctx.cursor = context->cursor.is_some ? cstr(&context->cursor.val) : NULL;
        tessera_sensor_result result;
        memset(&result, 0, sizeof result);
        tessera_status status = plugin.evaluates[i](&ctx, &result);
        if (status != TESSERA_OK) {
            plugin_error(err, status,
                         result.error != NULL ? result.error : "the sensor function failed");
            return false;
        }
        *ret = result.raw;
        return true;
    }
    plugin_error(err, TESSERA_INVALID_INPUT, "this plugin has no such sensor");
    return false;
}

void exports_tessera_plugin_mappings_declared_mappings(
    exports_tessera_plugin_mappings_list_mapping_definition_t *ret) {
    tessera_plugin plugin;
    memset(&plugin, 0, sizeof plugin);
    tessera_define(&plugin);
    *ret = plugin.mappings;
}

bool exports_tessera_plugin_mappings_map_partitions(
    exports_tessera_plugin_mappings_mapping_request_t *request,
    exports_tessera_plugin_mappings_list_key_range_t *ret,
    exports_tessera_plugin_mappings_plugin_error_t *err) {
    tessera_plugin plugin;
    memset(&plugin, 0, sizeof plugin);
    tessera_define(&plugin);
    for (size_t i = 0; i < plugin.mappings.len; i++) {
        if (!same(&plugin.mappings.ptr[i].name, &request->mapping)) {
            continue;
        }
        tessera_map map =
            request->direction == EXPORTS_TESSERA_PLUGIN_MAPPINGS_MAPPING_DIRECTION_TO_UPSTREAM
                ? plugin.to_upstream[i]
                : plugin.to_downstream[i];
        tessera_map_request r;
        r.raw = request;
        r.mapping = cstr(&request->mapping);
        r.upstream_asset = cstr(&request->upstream_asset);
        r.downstream_asset = cstr(&request->downstream_asset);
        r.firsts = checked(calloc(request->ranges.len + 1, sizeof *r.firsts));
        r.lasts = checked(calloc(request->ranges.len + 1, sizeof *r.lasts));
        for (size_t j = 0; j < request->ranges.len; j++) {
            r.firsts[j] = cstr(&request->ranges.ptr[j].first);
            r.lasts[j] = cstr(&request->ranges.ptr[j].last);
        }
        tessera_map_result result;
        memset(&result, 0, sizeof result);
        tessera_status status = map(&r, &result);
        if (status != TESSERA_OK) {
            plugin_error(err, status,
                         result.error != NULL ? result.error : "the mapping function failed");
            return false;
        }
        *ret = result.ranges;
        return true;
    }
    plugin_error(err, TESSERA_INVALID_INPUT, "this plugin exports no such mapping");
    return false;
}

void exports_tessera_plugin_checks_declared_checks(
    exports_tessera_plugin_checks_list_check_definition_t *ret) {
    tessera_plugin plugin;
    memset(&plugin, 0, sizeof plugin);
    tessera_define(&plugin);
    *ret = plugin.checks;
}

bool exports_tessera_plugin_checks_evaluate_check(
    exports_tessera_plugin_checks_check_context_t *context,
    exports_tessera_plugin_checks_list_input_partition_t *values,
    exports_tessera_plugin_checks_list_check_result_t *ret,
    exports_tessera_plugin_checks_plugin_error_t *err) {
    tessera_plugin plugin;
    memset(&plugin, 0, sizeof plugin);
    tessera_define(&plugin);
    for (size_t i = 0; i < plugin.checks.len; i++) {
        if (!same(&plugin.checks.ptr[i].name, &context->check)) {
            continue;
        }
        tessera_check_context ctx;
        ctx.raw = context;
        ctx.values = values;
        ctx.check = cstr(&context->check);
        ctx.asset = cstr(&context->asset);
        ctx.keys = checked(calloc(values->len + 1, sizeof *ctx.keys));
        for (size_t j = 0; j < values->len; j++) {
            ctx.keys[j] = cstr(&values->ptr[j].key);
        }
        tessera_check_results results;
        memset(&results, 0, sizeof results);
        tessera_status status = plugin.check_evaluates[i](&ctx, &results);
        if (status != TESSERA_OK) {
            plugin_error(err, status,
                         results.error != NULL ? results.error : "the check function failed");
            return false;
        }
        *ret = results.list;
        return true;
    }
    plugin_error(err, TESSERA_INVALID_INPUT, "this plugin exports no such check");
    return false;
}
