/*
 * `processed_events_c`: the Rust `processed_events` asset written in C against the C kit.
 *
 * It reads `raw_events` (declared by the Rust `processed_events` plugin) for the day and the
 * day before, deduplicates the events by id and writes the same JSON document, byte for byte,
 * as the Rust asset: keys sorted, no spaces.
 */
#include <stdlib.h>
#include <string.h>

#include "tessera.h"

typedef struct {
    char *id;
    char *event_date;
    long long value;
} event;

typedef struct {
    event *items;
    size_t len;
    size_t cap;
} events;

/* ---- a small JSON reader, enough for `raw_events` documents ------------------------------ */

typedef struct {
    const char *p;
    const char *end;
    bool ok;
} reader;

static void skip_ws(reader *r) {
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t')) {
        r->p++;
    }
}

static bool take(reader *r, char c) {
    skip_ws(r);
    if (r->p < r->end && *r->p == c) {
        r->p++;
        return true;
    }
    return false;
}

/* A string without escapes beyond \" and \\ (keys and dates never need more). */
static char *read_string(reader *r) {
    if (!take(r, '"')) {
        r->ok = false;
        return NULL;
    }
    char *s = malloc((size_t)(r->end - r->p) + 1);
    size_t n = 0;
    while (r->p < r->end && *r->p != '"') {
        if (*r->p == '\\' && r->p + 1 < r->end) {
            r->p++;
        }
        s[n++] = *r->p++;
    }
    if (r->p >= r->end) {
        r->ok = false;
        free(s);
        return NULL;
    }
    r->p++;
    s[n] = '\0';
    return s;
}

static long long read_int(reader *r) {
    skip_ws(r);
    char *after = NULL;
    long long v = strtoll(r->p, &after, 10);
    if (after == r->p) {
        r->ok = false;
    }
    r->p = after;
    return v;
}

static void skip_value(reader *r);

static void skip_container(reader *r, char open, char close) {
    take(r, open);
    if (take(r, close)) {
        return;
    }
    do {
        if (open == '{') {
            free(read_string(r));
            if (!take(r, ':')) {
                r->ok = false;
            }
        }
        skip_value(r);
    } while (r->ok && take(r, ','));
    if (!take(r, close)) {
        r->ok = false;
    }
}

static void skip_value(reader *r) {
    skip_ws(r);
    if (r->p >= r->end) {
        r->ok = false;
    } else if (*r->p == '"') {
        free(read_string(r));
    } else if (*r->p == '{') {
        skip_container(r, '{', '}');
    } else if (*r->p == '[') {
        skip_container(r, '[', ']');
    } else {
        while (r->p < r->end && strchr(",}] \n\r\t", *r->p) == NULL) {
            r->p++;
        }
    }
}

static void read_event(reader *r, events *out) {
    event e = {NULL, NULL, 0};
    if (!take(r, '{')) {
        r->ok = false;
        return;
    }
    do {
        char *key = read_string(r);
        if (key == NULL || !take(r, ':')) {
            r->ok = false;
            free(key);
            return;
        }
        if (strcmp(key, "id") == 0) {
            e.id = read_string(r);
        } else if (strcmp(key, "event_date") == 0) {
            e.event_date = read_string(r);
        } else if (strcmp(key, "value") == 0) {
            e.value = read_int(r);
        } else {
            skip_value(r);
        }
        free(key);
    } while (r->ok && take(r, ','));
    if (!take(r, '}') || e.id == NULL || e.event_date == NULL) {
        r->ok = false;
        return;
    }
    if (out->len == out->cap) {
        out->cap = out->cap ? out->cap * 2 : 16;
        out->items = realloc(out->items, out->cap * sizeof *out->items);
    }
    out->items[out->len++] = e;
}

/* Appends the `events` of one `raw_events` document; false when it is not one. */
static bool read_raw_events(const uint8_t *data, size_t len, events *out) {
    reader r = {(const char *)data, (const char *)data + len, true};
    if (!take(&r, '{')) {
        return false;
    }
    do {
        char *key = read_string(&r);
        if (key == NULL || !take(&r, ':')) {
            free(key);
            return false;
        }
        if (strcmp(key, "events") == 0) {
            if (!take(&r, '[')) {
                r.ok = false;
            } else if (!take(&r, ']')) {
                do {
                    read_event(&r, out);
                } while (r.ok && take(&r, ','));
                if (!take(&r, ']')) {
                    r.ok = false;
                }
            }
        } else {
            skip_value(&r);
        }
        free(key);
    } while (r.ok && take(&r, ','));
    return r.ok && take(&r, '}');
}

/* ---- the asset -------------------------------------------------------------------------- */

static int by_string(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static tessera_status processed_events(const tessera_context *ctx, const tessera_inputs *inputs,
                                       tessera_output *out) {
    const char *date = tessera_partition_key(ctx);
    if (date == NULL) {
        return tessera_invalid_input(out, "processed_events_c runs one partition at a time");
    }
    size_t parts = tessera_input_count(inputs, "raw_events");
    if (parts == 0) {
        return tessera_invalid_input(out, "no raw_events partition for %s", date);
    }
    events received = {NULL, 0, 0};
    for (size_t i = 0; i < parts; i++) {
        size_t len = 0;
        const uint8_t *data = tessera_input_data(inputs, "raw_events", i, &len);
        if (!read_raw_events(data, len, &received)) {
            return tessera_invalid_input(out, "raw_events[%s] is not a raw_events document",
                                         tessera_input_key(inputs, "raw_events", i));
        }
    }

    /* The first delivery of each id wins. */
    events unique = {calloc(received.len + 1, sizeof(event)), 0, received.len};
    long long value_sum = 0;
    for (size_t i = 0; i < received.len; i++) {
        bool seen = false;
        for (size_t j = 0; j < unique.len && !seen; j++) {
            seen = strcmp(unique.items[j].id, received.items[i].id) == 0;
        }
        if (!seen) {
            unique.items[unique.len++] = received.items[i];
            value_sum += received.items[i].value;
        }
    }

    /* Unique events per event date, dates in order. */
    char **dates = calloc(unique.len + 1, sizeof *dates);
    for (size_t i = 0; i < unique.len; i++) {
        dates[i] = unique.items[i].event_date;
    }
    qsort(dates, unique.len, sizeof *dates, by_string);

    tessera_output_printf(out, "{\"by_event_date\":{");
    for (size_t i = 0; i < unique.len;) {
        size_t j = i;
        while (j < unique.len && strcmp(dates[j], dates[i]) == 0) {
            j++;
        }
        tessera_output_printf(out, "%s\"%s\":%zu", i == 0 ? "" : ",", dates[i], j - i);
        i = j;
    }
    tessera_output_printf(out, "},\"date\":\"%s\",\"duplicates\":%zu,\"events_received\":%zu,", date,
                          received.len - unique.len, received.len);
    tessera_output_printf(out, "\"input_partitions\":[");
    for (size_t i = 0; i < parts; i++) {
        tessera_output_printf(out, "%s\"%s\"", i == 0 ? "" : ",",
                              tessera_input_key(inputs, "raw_events", i));
    }
    tessera_output_printf(out, "],\"unique_events\":%zu,\"value_sum\":%lld}", unique.len,
                          value_sum);
    tessera_output_metadata_int(out, "unique_events", (int64_t)unique.len);
    tessera_log(TESSERA_INFO, "%s: %zu events from %zu partitions, %zu unique", date,
                received.len, parts, unique.len);
    return TESSERA_OK;
}

#ifndef PLUGIN_CODE_VERSION
#define PLUGIN_CODE_VERSION "1"
#endif

void tessera_define(tessera_plugin *plugin) {
    tessera_asset *a = tessera_asset_new(plugin, "processed_events_c", processed_events);
    tessera_asset_daily(a, "2024-01-01");
    /* The first day has no previous day: run with what exists. */
    tessera_asset_input_window(a, "raw_events", -1, 0, true);
    tessera_asset_description(a, "Events of the day and the day before, deduplicated by id (C).");
    tessera_asset_code_version(a, PLUGIN_CODE_VERSION);
}
