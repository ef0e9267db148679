/*
 * A Tessera plugin in C: copy this directory to plugins/c/<name>/ and run
 * `cargo xtask plugins`; the component lands at target/plugins/<name>.wasm.
 */
#include <stdio.h>
#include <stdlib.h>

#include "tessera.h"

/* One daily partition: a line of text naming its day. */
static tessera_status hello(const tessera_context *ctx, const tessera_inputs *inputs,
                            tessera_output *out) {
    (void)inputs;
    const char *day = tessera_partition_key(ctx);
    if (day == NULL) {
        return tessera_invalid_input(out, "hello runs one day at a time");
    }
    tessera_output_printf(out, "hello, %s\n", day);
    tessera_output_metadata_text(out, "day", day);
    tessera_log(TESSERA_INFO, "greeted %s", day);
    return TESSERA_OK;
}

/* The week up to a day: reads seven upstream days through a time-window mapping. */
static tessera_status week(const tessera_context *ctx, const tessera_inputs *inputs,
                           tessera_output *out) {
    for (size_t i = 0; i < tessera_input_count(inputs, "hello"); i++) {
        size_t len = 0;
        const uint8_t *greeting = tessera_input_data(inputs, "hello", i, &len);
        tessera_output_write(out, greeting, len);
    }
    tessera_output_metadata_int(out, "days", (int64_t)tessera_input_count(inputs, "hello"));
    return TESSERA_OK;
}

/* A multi-asset: one function writes the greeting's size in characters and in lines, for the
 * assets the run asks for. */
static tessera_status sizes(const tessera_context *ctx, const tessera_inputs *inputs,
                            tessera_output *out) {
    size_t len = 0;
    const uint8_t *greeting = tessera_input_data(inputs, "hello", 0, &len);
    if (greeting == NULL) {
        return tessera_invalid_input(out, "no greeting to measure");
    }
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) {
        lines += greeting[i] == '\n';
    }
    if (tessera_is_requested(ctx, "hello_chars")) {
        tessera_output_printf(tessera_output_for(out, "hello_chars"), "%zu", len);
    }
    if (tessera_is_requested(ctx, "hello_lines")) {
        tessera_output_printf(tessera_output_for(out, "hello_lines"), "%zu", lines);
    }
    return TESSERA_OK;
}

/* Every evaluation asks for the next day after the cursor, keyed by that day: the host drops a
 * run key it has launched before. The cursor counts the days asked for. */
static tessera_status next_day(const tessera_sensor_context *ctx, tessera_sensor_result *result) {
    const char *cursor = tessera_sensor_cursor(ctx);
    int asked = cursor != NULL ? atoi(cursor) : 0;
    if (asked >= 28) {
        tessera_sensor_skip(result, "February is far enough");
        return TESSERA_OK;
    }
    char day[16];
    char next[16];
    snprintf(day, sizeof day, "2024-01-%02d", asked + 1);
    snprintf(next, sizeof next, "%d", asked + 1);
    tessera_sensor_request_run(result, day, "hello", day);
    tessera_sensor_set_cursor(result, next);
    return TESSERA_OK;
}

void tessera_define(tessera_plugin *plugin) {
    tessera_asset *a = tessera_asset_new(plugin, "hello", hello);
    tessera_asset_daily(a, "2024-01-01");
    tessera_asset_description(a, "A greeting per day.");
    tessera_asset_code_version(a, "1");

    tessera_asset *w = tessera_asset_new(plugin, "hello_week", week);
    tessera_asset_daily(w, "2024-01-01");
    tessera_asset_input_window(w, "hello", -6, 0, true);

    tessera_multi_asset *m = tessera_multi_asset_new(plugin, "hello_sizes", sizes);
    tessera_asset *chars = tessera_multi_asset_add(m, "hello_chars");
    tessera_asset_daily(chars, "2024-01-01");
    tessera_asset_input(chars, "hello");
    tessera_asset *lines = tessera_multi_asset_add(m, "hello_lines");
    tessera_asset_daily(lines, "2024-01-01");
    tessera_asset_input(lines, "hello");

    tessera_sensor *s = tessera_sensor_new(plugin, "next_day", next_day, 30);
    tessera_sensor_target(s, "hello");
}
