/*
 * The C kit declaring what tests/guests/kit_coverage declares with the Rust SDK: every
 * definition, mapping, multi-asset and backfill policy the contract allows, and a partition
 * mapping and an asset check the plugin exports.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "tessera.h"

/* The partition (or range) the call covers, or "-" when unpartitioned. */
static tessera_status label(const tessera_context *ctx, const tessera_inputs *inputs,
                            tessera_output *out) {
    (void)inputs;
    size_t n = tessera_partition_key_count(ctx);
    if (n == 0) {
        tessera_output_printf(out, "-");
    } else if (n == 1) {
        tessera_output_printf(out, "%s", tessera_partition_key_at(ctx, 0));
    } else {
        tessera_output_printf(out, "%s...%s", tessera_partition_key_at(ctx, 0),
                              tessera_partition_key_at(ctx, n - 1));
    }
    return TESSERA_OK;
}

/* One output per key of the call, each its own key: every partition has its own value. */
static tessera_status per_key(const tessera_context *ctx, const tessera_inputs *inputs,
                              tessera_output *out) {
    (void)inputs;
    for (size_t i = 0; i < tessera_partition_key_count(ctx); i++) {
        const char *key = tessera_partition_key_at(ctx, i);
        tessera_output_printf(tessera_output_for_partition(out, NULL, key), "%s", key);
    }
    return TESSERA_OK;
}

static tessera_status pair(const tessera_context *ctx, const tessera_inputs *inputs,
                           tessera_output *out) {
    (void)inputs;
    const char *assets[] = {"pair_a", "pair_b"};
    for (size_t i = 0; i < 2; i++) {
        if (tessera_is_requested(ctx, assets[i])) {
            tessera_output_printf(tessera_output_for(out, assets[i]), "%s", assets[i]);
        }
    }
    return TESSERA_OK;
}

static const char *const REGIONS[] = {"eu", "us"};

static void grid(tessera_asset *a) {
    tessera_asset_dimension_daily(a, "day", "2024-01-01");
    tessera_asset_dimension_static(a, "region", REGIONS, 2);
}

/* A copy of `key` with every letter passed through `convert`. */
static char *converted(const char *key, int (*convert)(int)) {
    size_t n = strlen(key);
    char *out = malloc(n + 1);
    for (size_t i = 0; out != NULL && i <= n; i++) {
        out[i] = (char)convert((unsigned char)key[i]);
    }
    return out;
}

static tessera_status map_case(const tessera_map_request *request, tessera_map_result *result,
                               int (*convert)(int)) {
    for (size_t i = 0; i < tessera_map_range_count(request); i++) {
        char *first = converted(tessera_map_range_first(request, i), convert);
        char *last = converted(tessera_map_range_last(request, i), convert);
        if (first == NULL || last == NULL) {
            return tessera_map_fail(result, "out of memory");
        }
        tessera_map_answer(result, first, last);
        free(first);
        free(last);
    }
    return TESSERA_OK;
}

/* Region codes upper-cased (`eu` -> `EU`), run by run: the mapping `case` downstream. */
static tessera_status upper(const tessera_map_request *request, tessera_map_result *result) {
    return map_case(request, result, toupper);
}

/* And back upstream. */
static tessera_status lower(const tessera_map_request *request, tessera_map_result *result) {
    return map_case(request, result, tolower);
}

/* Each value must be its key (as `src` writes them): empty warns, anything else fails; every
 * result carries the value's size, the asset checked and the time of the evaluation. */
static tessera_status labelled(const tessera_check_context *ctx, tessera_check_results *results) {
    for (size_t i = 0; i < tessera_check_value_count(ctx); i++) {
        const char *key = tessera_check_value_key(ctx, i);
        size_t len = 0;
        const uint8_t *data = tessera_check_value_data(ctx, i, &len);
        tessera_check_result *r;
        if (len == 0) {
            r = tessera_check_warn(results, key, "empty");
        } else if (len == strlen(key) && memcmp(data, key, len) == 0) {
            r = tessera_check_pass(results, key);
        } else {
            r = tessera_check_fail(results, key, "wrote %.*s", (int)len, (const char *)data);
        }
        tessera_check_result_metadata_int(r, "bytes", (int64_t)len);
        tessera_check_result_metadata_text(r, "asset", tessera_check_asset(ctx));
        tessera_check_result_metadata_int(r, "now", tessera_check_now(ctx));
    }
    return TESSERA_OK;
}

void tessera_define(tessera_plugin *plugin) {
    tessera_asset *src = tessera_asset_new(plugin, "src", per_key);
    tessera_asset_daily(src, "2024-01-01");
    tessera_asset_multi_run(src, 5);

    tessera_asset *g = tessera_asset_new(plugin, "grid", label);
    grid(g);
    tessera_asset_single_partition(g);

    tessera_asset *by_region = tessera_asset_new(plugin, "by_region", label);
    tessera_asset_static(by_region, REGIONS, 2);
    tessera_asset_input_multi_to_single(by_region, "grid", "region");

    tessera_asset *shifted = tessera_asset_new(plugin, "grid_shifted", label);
    grid(shifted);
    tessera_asset_input_multi(shifted, "grid");
    tessera_asset_input_dimension_window(shifted, "day", "day", -1, 0, false);
    tessera_asset_input_dimension_static_pair(shifted, "region", "region", "eu", "us");
    tessera_asset_input_dimension_static_pair(shifted, "region", "region", "us", "eu");

    tessera_asset *eu = tessera_asset_new(plugin, "grid_eu", label);
    grid(eu);
    tessera_asset_input_multi(eu, "grid");
    tessera_asset_input_dimension_identity(eu, "day", "day");
    tessera_asset_input_dimension_specific(eu, "region", "region", REGIONS, 1);

    static const char *const FIRSTS[] = {"2024-01-01", "2024-01-02"};
    tessera_asset *firsts = tessera_asset_new(plugin, "firsts", label);
    tessera_asset_input_specific(firsts, "src", FIRSTS, 2);

    static const char *const LABELS[] = {"EU", "US"};
    tessera_asset *labels = tessera_asset_new(plugin, "labels", label);
    tessera_asset_static(labels, LABELS, 2);
    tessera_asset_input_static_map(labels, "by_region");
    tessera_asset_input_static_pair(labels, "eu", "EU");
    tessera_asset_input_static_pair(labels, "us", "US");

    /* Contract 0.3.0: a business calendar, and three dimensions. */
    tessera_asset *business = tessera_asset_new(plugin, "business", label);
    tessera_asset_daily(business, "2024-01-01");
    tessera_asset_exclude(business, "* * * * 6,0");
    tessera_asset_exclude(business, "2024-01-15");
    tessera_asset_exclude(business, "2024-01-16T00:00");
    tessera_asset_input(business, "src");

    static const char *const PRODUCTS[] = {"a", "b"};
    tessera_asset *cube = tessera_asset_new(plugin, "cube", label);
    tessera_asset_dimension_daily(cube, "day", "2024-01-01");
    tessera_asset_dimension_static(cube, "region", REGIONS, 2);
    tessera_asset_dimension_static(cube, "product", PRODUCTS, 2);

    /* Sparse: each customer's regions every day; combinations held in a dynamic set. */
    static const char *const CUSTOMERS[] = {"acme", "bolt"};
    static const char *const COMBINED[] = {"customer", "region"};
    static const char *const ACME_US[] = {"acme", "us"};
    static const char *const ACME_EU[] = {"acme", "eu"};
    static const char *const BOLT_EU[] = {"bolt", "eu"};
    tessera_asset *accounts = tessera_asset_new(plugin, "accounts", label);
    tessera_asset_dimension_daily(accounts, "day", "2024-01-01");
    tessera_asset_dimension_static(accounts, "customer", CUSTOMERS, 2);
    tessera_asset_dimension_static(accounts, "region", REGIONS, 2);
    tessera_asset_combine(accounts, COMBINED, 2);
    tessera_asset_combination(accounts, ACME_US);
    tessera_asset_combination(accounts, ACME_EU);
    tessera_asset_combination(accounts, BOLT_EU);

    tessera_asset *pairs = tessera_asset_new(plugin, "pairs", label);
    tessera_asset_dimension_dynamic(pairs, "customer", "customers");
    tessera_asset_dimension_static(pairs, "region", REGIONS, 2);
    tessera_asset_combine(pairs, COMBINED, 2);
    tessera_asset_combinations_dynamic(pairs, "customer_regions");

    /* A weekly roll-up of the days that waits a day after each week for late days. */
    tessera_asset *weekly = tessera_asset_new(plugin, "weekly", label);
    tessera_asset_weekly(weekly, "2024-01-01");
    tessera_asset_input(weekly, "src");
    tessera_asset_input_wait_until(weekly, 86400);

    /* Through a mapping a plugin exports (not loaded here: only declared). */
    static const char *const PERIODS[] = {"FY2024-P01"};
    tessera_asset *fiscal = tessera_asset_new(plugin, "fiscal", label);
    tessera_asset_static(fiscal, PERIODS, 1);
    tessera_asset_input_plugin_mapping(fiscal, "src", "fiscal_445");

    tessera_multi_asset *p = tessera_multi_asset_new(plugin, "pair", pair);
    tessera_asset *a = tessera_multi_asset_add(p, "pair_a");
    tessera_asset_daily(a, "2024-01-01");
    tessera_asset_input(a, "src");
    tessera_asset_single_run(a);
    tessera_asset *b = tessera_multi_asset_add(p, "pair_b");
    tessera_asset_daily(b, "2024-01-01");
    tessera_asset_input(b, "src");

    tessera_mapping *m = tessera_mapping_new(plugin, "case", lower, upper);
    tessera_mapping_description(m, "Region codes in either case");

    tessera_check *c = tessera_check_new(plugin, "labelled", "src", labelled);
    tessera_check_description(c, "Each day's value is its key");
    tessera_check_blocking(c);
}
